"""SQL building blocks of the SQLite job and batch stores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orchestrator.core.models.timestamps import as_utc


def ts(value: datetime) -> float:
    """Columns hold UTC unix seconds; a naive datetime is taken as UTC (not as the machine's local time)."""
    return as_utc(value).timestamp()


def in_clause(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


class Where:
    """Collects `AND`ed conditions and their parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> Where:
        self.parts.append(sql)
        self.params.extend(params)
        return self

    def add_in(self, column: str, values: Sequence[Any]) -> Where:
        if values:
            sql, params = in_clause(column, [getattr(v, "value", v) for v in values])
            self.add(sql, *params)
        return self

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.parts) if self.parts else ""


def limit_clause(limit: int | None) -> str:
    return f" LIMIT {int(limit)}" if limit is not None else ""
