"""`orchestrator blob`: encode state updates into blobs, KZG commitments and proofs (operator tools).

Files use the fixtures' formats: a state update is a `starknet_getStateUpdate` result, a nonce
file is `[{"nonce": "<hex>", "address": "<decimal>"}]`, a blob is 262144 hex characters.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from orchestrator.controllers.cli.errors import CliError
from orchestrator.services.da import stateless
from orchestrator.services.da.batch import encode_and_compress
from orchestrator.services.da.blob import BlobFormatError, blob_from_hex, blob_to_hex, felts_to_blobs
from orchestrator.services.da.da_word import DaWordError
from orchestrator.services.da.encoder import RecordedNonces, encode_block_state_update
from orchestrator.services.da.state_update import StateUpdate, StateUpdateFormatError, parse_nonces
from orchestrator.services.da.version import (
    SUPPORTED_STARKNET_VERSION,
    StarknetVersion,
    format_starknet_version,
    parse_starknet_version,
)

_FILE = click.Path(dir_okay=False, path_type=Path)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise CliError(f"{path} is nested too deeply to be a state update") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise CliError(f"{path} is not valid JSON: {str(exc)[:200]}") from None


def _version(text: str) -> StarknetVersion:
    try:
        return parse_starknet_version(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


@click.group("blob")
def blob_group() -> None:
    """Encode state updates into blobs; KZG commitments and proofs."""


@blob_group.command("encode")
@click.argument("state_update_file", metavar="STATE_UPDATE.json", type=_FILE)
@click.option("--nonces", "nonces_file", type=_FILE, help="Recorded starknet_getNonce answers (per-block).")
@click.option(
    "--starknet-version",
    default=format_starknet_version(SUPPORTED_STARKNET_VERSION),
    show_default=True,
    help="Selects the DA word layout (and, with --batch, stateless compression from 0.13.3).",
)
@click.option("--batch", is_flag=True, help="Batch encoder + stateless compression (input already squashed).")
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def encode_command(
    state_update_file: Path, nonces_file: Path | None, starknet_version: str, batch: bool, out_dir: Path
) -> None:
    """Write the blobs of STATE_UPDATE.json to OUT_DIR/1.hex, 2.hex, ..."""
    version = _version(starknet_version)
    if batch and nonces_file is not None:
        raise CliError("--nonces is for the per-block encoder; the batch encoder reads no nonces")
    try:
        state_update = StateUpdate.from_json(_read_json(state_update_file))
        if batch:
            felts = encode_and_compress(state_update, version)
        else:
            nonces = parse_nonces(_read_json(nonces_file)) if nonces_file else {}
            felts = asyncio.run(encode_block_state_update(state_update, 0, version, RecordedNonces(nonces)))
    except (StateUpdateFormatError, DaWordError, stateless.CompressionError) as exc:
        raise CliError(str(exc)) from None
    except LookupError as exc:
        raise CliError(f"{exc}; pass it in --nonces") from None
    try:
        blobs = felts_to_blobs(felts)
        out_dir.mkdir(parents=True, exist_ok=True)
        for index, blob in enumerate(blobs, start=1):
            (out_dir / f"{index}.hex").write_text(blob_to_hex(blob))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    click.echo(f"{len(felts)} felts -> {len(blobs)} blob(s) in {out_dir}")


@blob_group.command("kzg")
@click.argument("blob_file", metavar="BLOB.hex", type=_FILE)
@click.option("--x0", help="Evaluation point (hex felt): also print the KZG proof at x0 and y.")
def kzg_command(blob_file: Path, x0: str | None) -> None:
    """Print the blob's KZG commitment, blob proof and versioned hash as JSON."""
    from orchestrator.crypto import kzg  # loads c-kzg; only this command needs it

    point = None
    if x0 is not None:
        try:
            point = int(x0.removeprefix("0x").removeprefix("0X"), 16)
        except ValueError:
            raise CliError(f"--x0 must be a hex number, got {x0!r}") from None
    try:
        blob = blob_from_hex(_read_text(blob_file))
        commitment = kzg.blob_to_commitment(blob)
        result = {
            "commitment": "0x" + commitment.hex(),
            "blob_proof": "0x" + kzg.compute_blob_proof(blob, commitment).hex(),
            "versioned_hash": "0x" + kzg.versioned_hash(commitment).hex(),
        }
        if point is not None:
            proof, y = kzg.compute_proof(blob, point)
            result["proof"] = "0x" + proof.hex()
            result["y"] = f"{y:#066x}"
    except (BlobFormatError, kzg.KzgError) as exc:
        raise CliError(f"{blob_file}: {exc}") from None
    click.echo(json.dumps(result, indent=2))
