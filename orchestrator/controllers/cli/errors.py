"""CLI errors: one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import click


class CliError(click.ClickException):
    """Bad input or configuration: printed as `Error: <message>`, exit code 2."""

    exit_code = 2


class CliFailure(click.ClickException):
    """The command ran but its work failed (an unreachable service, a rejected request): exit code 1."""

    exit_code = 1
