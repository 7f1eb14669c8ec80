"""DEVNET STAND-IN for Atlantic's proving: the Atlantic double's queries finish by themselves, with
proof artifacts whose public input carries what a real proof of the same job would attest to.

Nothing is proven here: no STARK proof is attached (the orchestrator and the settlement test server
read only a proof's public input). What is real is what each side checks:

- a child query (`PROOF_GENERATION`) reads its Cairo PIE with the orchestrator's PIE reader; its
  `proof.json` attests the bootloader's output for that one task, `[1, len(output) + 2,
  program_hash(PIE), *output]`, in the query's layout;
- an L2 verification query (`PROOF_VERIFICATION_ON_L2`) must name the Cairo verifier's program hash
  and its layout, and carry `{"proof": <proof>}` whose layout is that layout and whose bootloaded
  program is the Starknet OS the settlement contract accepts; otherwise it FAILS with the reason,
  as Atlantic would. On success its `proof.json` (the layout bridge proof) attests
  `bridge_output(...)`, and its fact is registered with the settlement layer (`on_fact`), as the
  Integrity verifier registers it on Starknet.

A query is IN_PROGRESS for its first `polls_before_done` status queries, then DONE (or FAILED).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from infra.devnet.atlantic import AtlanticDouble, SubmittedQuery
from infra.devnet.starknet_core import ProgramInfo, bridge_fact, bridge_output
from orchestrator.services.job.handlers.stark_proof import StarkProofError, public_output
from orchestrator.services.proof.pie import PieError, read_cairo_pie
from orchestrator.services.proof.program_hash import program_hash
from orchestrator.services.proof.program_output import program_output

L2_VERIFICATION = "PROOF_VERIFICATION_ON_L2"
#: where the stand-in proofs place the output segment in the main page
_OUTPUT_BEGIN = 1


class ProvingRejected(Exception):
    """The query cannot be proven or verified; its reason becomes the query's errorReason."""


@dataclass(frozen=True)
class VerifierSetup:
    """What Atlantic's L2 verification accepts, and what the settlement contract expects of it."""

    cairo_verifier_program_hash: int
    verification_layout: str
    programs: ProgramInfo


def stand_in_proof(layout: str, output: Sequence[int], n_steps: int) -> bytes:
    """A Stone-proof-shaped JSON whose public input attests `output` (and nothing is proven)."""
    stop = _OUTPUT_BEGIN + len(output)
    public_input = {
        "layout": layout,
        "n_steps": n_steps,
        "memory_segments": {
            "program": {"begin_addr": 0, "stop_ptr": 0},
            "execution": {"begin_addr": stop, "stop_ptr": stop},
            "output": {"begin_addr": _OUTPUT_BEGIN, "stop_ptr": stop},
        },
        "public_memory": [
            {"address": _OUTPUT_BEGIN + i, "value": hex(word), "page": 0} for i, word in enumerate(output)
        ],
    }
    return json.dumps({"public_input": public_input, "devnet_stand_in": "no STARK proof"}).encode()


def _public_output(proof: dict[str, object]) -> tuple[str, list[int]]:
    try:
        public_input = proof["public_input"]
        layout = public_input["layout"] if isinstance(public_input, dict) else None
        output = public_output(json.dumps(proof).encode())
    except (KeyError, TypeError, StarkProofError) as exc:
        raise ProvingRejected(f"the submitted proof has no readable public input: {exc}") from None
    if not isinstance(layout, str):
        raise ProvingRejected("the submitted proof names no layout")
    return layout, output


class DevnetProving:
    """The `Proving` of an `AtlanticDouble` for the devnet (see the module docstring)."""

    def __init__(self, verifier: VerifierSetup, on_fact: Callable[[int], None], *, polls_before_done: int = 0):
        self.verifier = verifier
        self.on_fact = on_fact
        self.polls_before_done = polls_before_done
        self.verified_facts: list[int] = []

    def advance(self, double: AtlanticDouble, query: SubmittedQuery) -> None:
        record = query.record
        if record["status"] in ("DONE", "FAILED") or "result" not in query.form:
            return  # settled already, or a bucket's aggregator query (tests finish those)
        if query.polls <= self.polls_before_done:
            record["status"] = "IN_PROGRESS"
            return
        try:
            if query.form["result"] == L2_VERIFICATION:
                proof, fact = self.verify_on_l2(query)
            else:
                proof, fact = self.prove(query), None
        except ProvingRejected as exc:
            record["status"], record["errorReason"] = "FAILED", str(exc)
            return
        double.artifacts[(record["id"], "proof.json")] = proof
        if fact is not None:
            self.verified_facts.append(fact)
            self.on_fact(fact)
        record["status"], record["completedAt"] = "DONE", "2026-01-01T00:00:00Z"

    def prove(self, query: SubmittedQuery) -> bytes:
        try:
            pie = read_cairo_pie(query.files["pieFile"])
            output = program_output(pie)
        except (KeyError, PieError) as exc:
            raise ProvingRejected(f"the Cairo PIE cannot be run: {exc}") from None
        bootloaded = [1, len(output) + 2, program_hash(pie.program), *output]
        layout = query.form.get("layout", "dynamic")
        return stand_in_proof(layout, bootloaded, pie.n_steps or len(output))

    def verify_on_l2(self, query: SubmittedQuery) -> tuple[bytes, int]:
        setup, form = self.verifier, query.form
        try:
            named = int(form["programHash"], 16)
        except ValueError:
            raise ProvingRejected(f"programHash {form['programHash']!r} is not a hex felt") from None
        if named != setup.cairo_verifier_program_hash:
            raise ProvingRejected(
                f"programHash {hex(named)} is not the Cairo verifier ({hex(setup.cairo_verifier_program_hash)})"
            )
        if form["layout"] != setup.verification_layout:
            raise ProvingRejected(f"layout {form['layout']!r}: the verifier runs {setup.verification_layout!r}")
        try:
            wrapped = json.loads(query.files["inputFile"])
            proof = wrapped["proof"]
        except (KeyError, TypeError, ValueError):
            raise ProvingRejected('inputFile is not {"proof": <proof>}') from None
        layout, snos_output = _public_output(proof)
        if layout != form["layout"]:
            raise ProvingRejected(f"the proof is in layout {layout!r}, the query verifies {form['layout']!r}")
        programs = setup.programs
        if len(snos_output) < 3 or snos_output[2] != programs.snos_program_hash:
            proven = hex(snos_output[2]) if len(snos_output) >= 3 else "none"
            raise ProvingRejected(
                f"the proof's bootloaded program {proven} is not the Starknet OS ({hex(programs.snos_program_hash)})"
            )
        bridge = bridge_output(programs, snos_output)
        return stand_in_proof(setup.verification_layout, bridge, len(bridge)), bridge_fact(programs, bridge)
