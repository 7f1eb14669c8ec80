"""Where settings come from: `MADARA_ORCHESTRATOR_…` variables (env names as the reference's), `NAME_FILE`
secrets, and the base class of every settings area."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX = "MADARA_ORCHESTRATOR_"
#: a secret read from `NAME_FILE` is a key, a token or a URL: anything larger is a wrong path
MAX_SECRET_FILE_BYTES = 64 * 1024
MAX_ENV_FILE_BYTES = 1024 * 1024


class SettingsError(Exception):
    """Invalid or missing settings; `problems` has one human-readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class FileSecretsSource(PydanticBaseSettingsSource):
    """`NAME_FILE` wins over `NAME` for the fields marked secret: the file's trimmed content."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            extra = field.json_schema_extra
            if not (isinstance(extra, dict) and extra.get("secret_file")):
                continue
            env_name = env_name_of(name, field)
            path = self._environ.get(f"{env_name}_FILE")
            if not path:
                continue
            try:
                with Path(path).open("rb") as file:
                    raw = file.read(MAX_SECRET_FILE_BYTES + 1)
            except OSError as exc:
                raise ValueError(f"{env_name}_FILE: cannot read {path}: {exc.strerror}") from exc
            if len(raw) > MAX_SECRET_FILE_BYTES:
                raise ValueError(f"{env_name}_FILE: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
            try:
                content = raw.decode().strip()
            except UnicodeDecodeError:
                raise ValueError(f"{env_name}_FILE: {path} is not UTF-8 text") from None
            if not content:
                raise ValueError(f"{env_name}_FILE: {path} is empty")
            values[name] = content
        return values


def env_name_of(field_name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return str(first)
    if isinstance(alias, str):
        return alias
    return PREFIX + field_name.upper()


def private_key(value: SecretStr | None) -> SecretStr | None:
    """A 0x-prefixed hex key of 1..64 digits; the message never contains the value (the caller's
    error names the variable)."""
    if value is None:
        return None
    raw = value.get_secret_value().strip()
    digits = raw[2:] if raw[:2].lower() == "0x" else ""
    if not 0 < len(digits) <= 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        hidden = f"the {len(raw)}-character value is hidden"
        raise ValueError(f"must be a 0x-prefixed hex key of at most 64 digits ({hidden})")
    return SecretStr(raw)


def secret_field(default: Any = None, description: str = "") -> Any:
    return Field(default=default, description=description, json_schema_extra={"secret_file": True})


class _Area(BaseSettings):
    """One area of settings; every field is `MADARA_ORCHESTRATOR_<FIELD>` unless aliased."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", case_sensitive=False)
    area: ClassVar[str] = ""
    _environ: ClassVar[Mapping[str, str]] = os.environ

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, FileSecretsSource(settings_cls, cls._environ), env_settings, dotenv_settings)
