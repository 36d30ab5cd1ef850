"""Keyset (cursor) pagination shared by the read-side queries, never offsets.

The cursor is the sort key of the last row served, and the next page starts strictly after it, so
rows inserted meanwhile never shift a page (no row is served twice or skipped because of an
insert). Cursors are opaque to clients: base64 of the key's JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from casework.errors import InvalidCursor

T = TypeVar("T")
MAX_PAGE = 500


@dataclass(frozen=True)
class PageOf(Generic[T]):
    items: list[T]
    #: The cursor of the next page, None on the last one.
    next_cursor: str | None


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(parts, list) or len(parts) != size:
        raise InvalidCursor()
    return parts


def instant(value: Any) -> datetime | None:
    """A cursor's ISO instant (None stays None); InvalidCursor for anything else or a naive one."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidCursor() from None
    if instant.tzinfo is None:
        raise InvalidCursor()
    return instant
