"""`orchestrator` command line: run, setup, and the operator tools (blob, pie, settlement)."""

from __future__ import annotations

import importlib
from typing import Any

import click

from orchestrator.core.version import ORCHESTRATOR_VERSION

# Subcommands load on use: the tools pull in heavy libraries (web3, starknet-py) that `--help`
# and `run` should not pay for.
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("orchestrator.controllers.cli.run", "run_command"),
    "setup": ("orchestrator.controllers.cli.setup", "setup_command"),
    "blob": ("orchestrator.controllers.cli.blob", "blob_group"),
    "pie": ("orchestrator.controllers.cli.pie", "pie_group"),
    "settlement": ("orchestrator.controllers.cli.settlement", "settlement_group"),
}
_HELP = {
    "run": "Run the workers and the HTTP API.",
    "setup": "Create the queues, storage, schedules and alerts the orchestrator needs.",
    "blob": "Encode state updates into blobs; KZG commitments and proofs.",
    "pie": "Cairo PIE tools: facts.",
    "settlement": "Settlement tools: updateStateKzgDA calldata.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command: click.Command = getattr(module, target[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help must not import every subcommand module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, _HELP[name]) for name in sorted(_COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ORCHESTRATOR_VERSION, prog_name="orchestrator")
def cli() -> None:
    """Job-pipeline orchestrator for a Starknet-style rollup."""


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="orchestrator")


if __name__ == "__main__":
    main()
