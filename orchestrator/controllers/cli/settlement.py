"""`orchestrator settlement`: settlement tools for operators.

`calldata` prints the `updateStateKzgDA(uint256[] programOutput, bytes[] kzgProofs)` calldata that
the Ethereum settlement client would send for a program output and its blobs, with the KZG proofs
at x_0 computed and checked against the output's commitments and y_0 values.
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.controllers.cli.errors import CliError

_FILE = click.Path(dir_okay=False, path_type=Path)
_BLOB_BYTES = 131072


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_blob(path: Path) -> bytes:
    """A blob file: 262144 hex characters (optionally 0x-prefixed), or the raw 131072 bytes."""
    data = _read_bytes(path)
    if len(data) == _BLOB_BYTES:
        return data
    try:
        body = data.decode("ascii").strip().removeprefix("0x")
        blob = bytes.fromhex(body)
    except (UnicodeDecodeError, ValueError):
        raise CliError(f"{path}: a blob must be {2 * _BLOB_BYTES} hex characters or {_BLOB_BYTES} raw bytes") from None
    if len(blob) != _BLOB_BYTES:
        raise CliError(f"{path}: a blob must be {2 * _BLOB_BYTES} hex characters, got {len(body)}")
    return blob


@click.group("settlement")
def settlement_group() -> None:
    """Settlement tools: updateStateKzgDA calldata."""


@settlement_group.command("calldata")
@click.option(
    "--program-output",
    "program_output_file",
    required=True,
    type=_FILE,
    help="Program output: one felt per line, decimal or 0x-hex.",
)
@click.option(
    "--blob",
    "blob_files",
    required=True,
    multiple=True,
    type=_FILE,
    help="A blob of the state update (262144 hex characters), in order; repeat for each blob.",
)
def calldata_command(program_output_file: Path, blob_files: tuple[Path, ...]) -> None:
    """Print the updateStateKzgDA calldata as 0x-hex."""
    # Imported here: c-kzg and eth-abi load only when the command runs.
    from orchestrator.clients.settlement.blob_proofs import build_kzg_proofs
    from orchestrator.clients.settlement.calldata import update_state_kzg_da_calldata
    from orchestrator.clients.settlement.program_output import ProgramOutputError, parse_felts
    from orchestrator.crypto.kzg import KzgError

    try:
        text = _read_bytes(program_output_file).decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{program_output_file}: not a text file") from None
    blobs = [_read_blob(path) for path in blob_files]
    try:
        program_output = parse_felts(text, source=str(program_output_file))
        proofs = build_kzg_proofs(program_output, blobs)
    except (ProgramOutputError, KzgError) as exc:
        raise CliError(str(exc)) from None
    click.echo("0x" + update_state_kzg_da_calldata(program_output, proofs).hex())
