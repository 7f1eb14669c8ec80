"""`orchestrator pie`: Cairo PIE tools."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.controllers.cli.errors import CliError
from orchestrator.core.madara.felt import json_felt


def _felt(value: str) -> int:
    try:
        return json_felt(value)
    except ValueError as exc:
        raise CliError(f"--program-hash: {exc}") from None


@click.group("pie")
def pie_group() -> None:
    """Cairo PIE tools: facts."""


@pie_group.command("fact")
@click.argument("pie_path", metavar="PIE.zip", type=click.Path(path_type=Path))
@click.option("--l2", "l2", is_flag=True, help="The Poseidon L2 fact (SNOS on L2 without KZG DA).")
@click.option("--aggregator", is_flag=True, help="Skip the children outputs an aggregator PIE echoes.")
@click.option("--program-hash", default=None, help="Use this program hash instead of hashing the PIE's program.")
def fact_command(pie_path: Path, l2: bool, aggregator: bool, program_hash: str | None) -> None:
    """Print the fact of a Cairo PIE as 0x-hex (64 digits); the GPS keccak fact by default."""
    from orchestrator.services.proof.fact import get_fact_info, l2_fact
    from orchestrator.services.proof.pie import PieError, read_cairo_pie
    from orchestrator.services.proof.program_output import program_output

    if l2 and (aggregator or program_hash):
        raise CliError("--l2 takes neither --aggregator nor --program-hash")
    if not pie_path.is_file():
        raise CliError(f"no such file: {pie_path}")
    try:
        pie = read_cairo_pie(pie_path)
        if l2:
            fact = l2_fact(program_output(pie))
        else:
            hash_ = _felt(program_hash) if program_hash else None
            fact = get_fact_info(pie, program_hash=hash_, aggregator=aggregator).fact
    except PieError as exc:
        raise CliError(f"{pie_path}: {exc}") from None
    click.echo("0x" + fact.hex())
