"""Aware UTC datetimes only: every time a model carries is normalised to UTC when it is built."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is taken as UTC (what the reference and our stores write), never as
    the machine's local time."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: A model field type: whatever a store or a client hands in (naive, or aware in another zone) is kept as
#: an aware UTC datetime, so comparisons and arithmetic never mix naive and aware values.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
