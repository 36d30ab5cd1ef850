"""Column types that behave the same on SQLite and PostgreSQL.

``UTCDateTime`` stores UTC and always gives back timezone-aware UTC datetimes: PostgreSQL keeps a
``timestamptz``; SQLite has no time zones, so the value is stored as naive UTC text and UTC is put
back on the way out. A naive datetime going in is a bug (whose local time would it be?) and is
refused with ``NaiveDatetimeError`` rather than guessed.

``EnumText`` stores a StrEnum as its plain value in a VARCHAR (no native PostgreSQL enum type, so
adding a member never needs a type migration) and gives the enum member back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone was about to be stored."""


class UTCDateTime(TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"refusing to store a naive datetime ({value.isoformat()}); use UTC")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EnumText(TypeDecorator[StrEnum]):
    """A StrEnum stored as its value; ``length`` bounds the VARCHAR."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 40) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(self.enum_cls(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum_cls(value)
