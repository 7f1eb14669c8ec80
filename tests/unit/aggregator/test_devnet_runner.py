"""The devnet aggregator stand-in: its output agrees with the node, the blobs, its PIE, the children,
and the fact rule the core contract checks."""

from __future__ import annotations

from typing import Any

import pytest
from eth_hash.auto import keccak

from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner, echoed_children
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM_HASH
from orchestrator.clients.snos.pie_writer import STARK_PRIME
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorOutput
from orchestrator.crypto import kzg
from orchestrator.services.proof.fact import get_fact_info
from orchestrator.services.proof.pie import read_cairo_pie
from orchestrator.services.proof.program_output import N_BLOBS_OFFSET, X_0_POINT_OFFSET, program_output
from tests.unit.aggregator.recorded import END, START, Recorded, RecordedNode, recorded, update


@pytest.fixture(scope="module")
def data() -> Recorded:
    return recorded()


def runner(node: Any = None) -> DevnetAggregatorRunner:
    return DevnetAggregatorRunner(node or RecordedNode())  # type: ignore[arg-type]


def core_contract_fact(program_hash: int, output: list[int]) -> bytes:
    """TestStarknetCore: keccak256(abi.encode(programHash, keccak256(abi.encodePacked(programOutput))))."""
    packed = b"".join(word.to_bytes(32, "big") for word in output)
    return keccak(program_hash.to_bytes(32, "big") + keccak(packed))


async def test_header_words_come_from_the_node(data: Recorded) -> None:
    out = (await runner().run(data.request())).program_output
    assert out[0] == int(update(START)["old_root"], 16)
    assert out[1] == int(update(END)["new_root"], 16)
    assert out[2:4] == [START - 1, END]
    assert out[4] == int(update(START - 1)["block_hash"], 16)
    assert out[5] == int(update(END)["block_hash"], 16)
    # the children ran the devnet OS stand-in with config hash 0; KZG DA, no full output
    assert out[6:10] == [DEVNET_PROGRAM_HASH, 0, 1, 0]
    # the batch's state is where its children's chain starts and ends
    children = data.children_outputs
    assert out[0:5:2] == children[0][0:5:2] and out[1:6:2] == children[-1][1:6:2]


async def test_kzg_section_commits_to_the_batch_blobs(data: Recorded) -> None:
    out = (await runner().run(data.request())).program_output
    n = out[N_BLOBS_OFFSET]
    assert n == len(data.blobs) == 2
    x_0 = out[X_0_POINT_OFFSET]
    assert len(out) == 12 + 4 * n + 2 and out[-2:] == [0, 0]  # no messages in the recording
    for i, blob in enumerate(data.blobs):
        commitment = kzg.blob_to_commitment(blob)
        low, high = out[12 + 2 * i], out[13 + 2 * i]
        assert (high << 192 | low).to_bytes(48, "big") == commitment
        # what settlement does: y from the output, a proof at x_0 that must verify against the commitment
        y = out[12 + 2 * n + 2 * i + 1] << 128 | out[12 + 2 * n + 2 * i]
        proof, computed = kzg.compute_proof(blob, x_0)
        assert computed == y
        assert kzg.verify_proof(commitment, x_0, y, proof)


async def test_pie_fact_and_core_contract_rule_agree(data: Recorded) -> None:
    result = await runner().run(data.request())
    pie = read_cairo_pie(result.cairo_pie)
    # the PIE echoes the children first, as the Cairo aggregator does, then its own output
    full = program_output(pie)
    echo = echoed_children(data.children_outputs)
    assert full == [*echo, *result.program_output]
    assert echo[0] == 3 and echo[1:3] == [len(data.children_outputs[0]) + 2, DEVNET_PROGRAM_HASH]
    assert program_output(pie, aggregator=True) == result.program_output
    info = get_fact_info(pie, aggregator=True)
    assert info.program_hash == DEVNET_PROGRAM_HASH
    assert result.fact == info.fact_hex == "0x" + core_contract_fact(DEVNET_PROGRAM_HASH, result.program_output).hex()
    assert len(result.fact) == 66
    assert result.da_segment == data.da_segment


async def test_same_batch_gives_the_same_outputs(data: Recorded) -> None:
    first: AggregatorOutput = await runner().run(data.request())
    second = await runner().run(data.request())
    assert (first.fact, first.program_output) == (second.fact, second.program_output)


async def test_children_messages_are_concatenated(data: Recorded) -> None:
    outputs = [list(o) for o in data.children_outputs]
    # replace the empty message segments (each prefixed by its length): child 0 has 4 words of
    # L2->L1 messages and none to L2; child 2 has 3 words of L2->L1 and 2 of L1->L2 messages
    outputs[0][-2:] = [4, 0xA1, 0xA2, 1, 0xA3, 0]
    outputs[2][-2:] = [3, 0xC1, 0xC2, 0, 2, 0xC3, 0xC4]
    result = await runner().run(data.request(children_outputs=outputs))
    n = len(data.blobs)
    assert result.program_output[12 + 4 * n :] == [7, 0xA1, 0xA2, 1, 0xA3, 0xC1, 0xC2, 0, 2, 0xC3, 0xC4]
    assert program_output(read_cairo_pie(result.cairo_pie), aggregator=True) == result.program_output


async def test_block_zero_starts_from_block_minus_one() -> None:
    """A batch from genesis: the previous block number is -1, written as the felt P - 1."""
    first = update(START)

    class GenesisNode:
        async def get_block_with_tx_hashes(self, n: int) -> dict[str, Any]:
            assert n == 0
            return {"block_number": 0, "parent_hash": "0x0"}

        async def get_state_update(self, n: int) -> dict[str, Any]:
            assert n == 0
            return first

    old, new, end_hash = (int(first[k], 16) for k in ("old_root", "new_root", "block_hash"))
    child = [old, new, STARK_PRIME - 1, 0, 0, end_hash, 0, 0, 1, 0, 0x55, 1, 1, 2, 3, 4, 0, 0]
    request = recorded().request(
        start_block=0,
        end_block=0,
        children_outputs=[child],
        children_keys=["0xk"],
        blobs=recorded().blobs[:1],
        da_segment=[1, 2, 3],
    )
    out = (await DevnetAggregatorRunner(GenesisNode()).run(request)).program_output  # type: ignore[arg-type]
    assert out[:6] == [old, new, STARK_PRIME - 1, 0, 0, end_hash]


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("position", "word", "what"),
    [(0, 0, "state root"), (1, 0, "state root"), (1, 2, "block number"), (2, 4, "block hash")],
)
async def test_children_that_do_not_chain_are_refused(data: Recorded, position: int, word: int, what: str) -> None:
    outputs = [list(o) for o in data.children_outputs]
    outputs[position][word] += 1
    with pytest.raises(AggregatorError, match=f"child {position} starts from {what}") as caught:
        await runner().run(data.request(children_outputs=outputs))
    assert not caught.value.retryable


async def test_children_must_end_at_the_batch_end(data: Recorded) -> None:
    outputs = [list(o) for o in data.children_outputs][:2]
    with pytest.raises(AggregatorError, match="the children end at state root") as caught:
        await runner().run(data.request(children_outputs=outputs, children_keys=data.children_keys[:2]))
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"children_outputs": [], "children_keys": []}, "no children"),
        ({"children_keys": ["0x1"]}, "3 child outputs but 1 job keys"),
        ({"blobs": []}, "no blobs"),
        ({"da_segment": []}, "DA segment of 0 felts"),
        ({"da_segment": [1] * (2 * 4096 + 1)}, "DA segment of 8193 felts does not fit 2 blob"),
        ({"start_block": END + 1}, "end before start"),
        ({"blobs": [b"\x00" * 10, b"\x00" * 10]}, "not valid"),
    ],
)
async def test_invalid_requests_are_fatal(data: Recorded, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(AggregatorError, match=message) as caught:
        await runner().run(data.request(**changes))
    assert not caught.value.retryable


async def test_malformed_children_are_fatal(data: Recorded) -> None:
    no_kzg = [list(o) for o in data.children_outputs]
    no_kzg[1][8] = 0
    with pytest.raises(AggregatorError, match="child 1 did not use KZG DA"):
        await runner().run(data.request(children_outputs=no_kzg))
    truncated = [list(o) for o in data.children_outputs]
    truncated[2] = truncated[2][:-1]
    with pytest.raises(AggregatorError, match="child 2's output has no L1->L2 message count"):
        await runner().run(data.request(children_outputs=truncated))
    configs = [list(o) for o in data.children_outputs]
    configs[0][7] = 9
    with pytest.raises(AggregatorError, match="different OS config hashes"):
        await runner().run(data.request(children_outputs=configs))


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (RecordedNode(pending_from=END), f"block {END} is still pending"),
        (RecordedNode(down=True), "RPC error"),
    ],
)
async def test_node_trouble_is_retryable(data: Recorded, node: RecordedNode, message: str) -> None:
    with pytest.raises(AggregatorError, match=message) as caught:
        await runner(node).run(data.request())
    assert caught.value.retryable


async def test_unknown_block_is_retryable(data: Recorded) -> None:
    with pytest.raises(AggregatorError, match="BlockNotFound") as caught:
        await runner().run(data.request(start_block=10**9, end_block=10**9))
    assert caught.value.retryable
