"""CLI flags generated from the settings: every field of an area becomes `--field-name`.

A flag given on the command line overrides the environment and `.env`; flags left out change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import click
from pydantic import SecretStr

from orchestrator.config import AREAS, Settings, SettingsError, env_name_of, load_settings
from orchestrator.controllers.cli.errors import CliError

F = TypeVar("F", bound=Callable[..., Any])


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """(click type, is_flag) for a field annotation."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is not None and get_origin(annotation) is not Literal and args:
        annotation = args[0]
    if annotation is bool:
        return None, True
    if get_origin(annotation) is Literal:
        return click.Choice([str(a) for a in get_args(annotation)]), False
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return click.Choice([str(m.value) for m in annotation], case_sensitive=False), False
    if annotation is int:
        return click.INT, False
    if annotation is Path:
        return click.Path(path_type=Path), False
    if annotation is SecretStr:
        return click.STRING, False
    return click.STRING, False


def settings_options(areas: Iterable[str]) -> Callable[[F], F]:
    wanted = set(areas)

    def decorate(fn: F) -> F:
        for area in reversed(AREAS):
            if area.area not in wanted:
                continue
            for name, field in reversed(list(area.model_fields.items())):
                ctype, is_flag = _click_type(field.annotation)
                flag = "--" + name.replace("_", "-")
                env = env_name_of(name, field)
                help_text = f"{field.description + '. ' if field.description else ''}[env {env}]"
                if is_flag:
                    opt = click.option(f"{flag}/--no-{flag[2:]}", f"{area.area}__{name}", default=None, help=help_text)
                else:
                    opt = click.option(flag, f"{area.area}__{name}", type=ctype, default=None, help=help_text)
                fn = opt(fn)
        return fn

    return decorate


def load_from_cli(options: dict[str, Any], env_file: str | None = ".env") -> Settings:
    """Settings from the generated flags (only those given) over the environment; CliError on problems."""
    overrides = {key.replace("__", "."): value for key, value in options.items() if "__" in key and value is not None}
    try:
        return load_settings(overrides, env_file=env_file)
    except SettingsError as exc:
        raise CliError("invalid settings:\n  " + "\n  ".join(exc.problems)) from None
