"""Limits on what a case may be given, checked by the services so the API, the CLI and the console
all refuse the same input the same way (``InputRejected`` with a JSON pointer: HTTP 422, exit 2).

- attributes: at most ``MAX_ATTRIBUTE_DEPTH`` levels of nesting (the attributes object is level 1)
  and ``MAX_ATTRIBUTE_BYTES`` of JSON; no non-finite number (NaN, Infinity: JSON has none, and
  PostgreSQL's JSONB refuses them); a text that reads as an ISO 8601 instant with an offset must lie
  in ``[MIN_INSTANT, MAX_INSTANT)`` (policies compare such texts with deadlines and subtract margins:
  year 1 or 9999 would overflow there).
- ``opened_at``: not in the future and not older than ``LIFELINE_MAX_BACKDATE`` (default 30 days):
  a case backdated years would apply thousands of timers in one request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from casework.errors import InputRejected

#: Deepest nesting of a case's attributes (the attributes object itself is level 1).
MAX_ATTRIBUTE_DEPTH = 32
#: Largest attributes, as compact JSON (UTF-8 bytes).
MAX_ATTRIBUTE_BYTES = 64 * 1024
#: Instants the services accept (in queries, ``opened_at`` and datetime texts in attributes): far from
#: the ends of Python's datetime range, so adding any policy duration or offset stays representable.
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def check_instant(value: datetime, pointer: str) -> datetime:
    """``value`` if it is timezone-aware and within ``[MIN_INSTANT, MAX_INSTANT)``, else
    InputRejected at ``pointer`` (converting an edge value such as ``9999-12-31T23:59:59-14:00``
    to UTC overflows, so the offset is compared before converting)."""
    offset = value.utcoffset()
    if offset is None:
        raise InputRejected(pointer, "a datetime needs a UTC offset (Z or +01:00)")
    naive = value.replace(tzinfo=None)
    low, high = MIN_INSTANT.replace(tzinfo=None) + offset, MAX_INSTANT.replace(tzinfo=None) + offset
    if not low <= naive < high:
        raise InputRejected(
            pointer,
            f"{value.isoformat()} is out of range: instants must lie in "
            f"[{MIN_INSTANT.isoformat()}, {MAX_INSTANT.isoformat()})",
        )
    return value


def _text_instant(text: str) -> datetime | None:
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


def check_json_value(value: Any, pointer: str, max_depth: int, depth: int = 1) -> None:
    """Refuse nesting deeper than ``max_depth`` (``value`` is at ``depth``), non-finite numbers and
    out-of-range instant texts anywhere in ``value``: InputRejected at the first offending pointer."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputRejected(pointer, f"{value} is not a finite number (NaN and Infinity are refused)")
    elif isinstance(value, str):
        instant = _text_instant(value)
        if instant is not None:
            check_instant(instant, pointer)
    elif isinstance(value, Mapping | list | tuple):
        if depth > max_depth:
            raise InputRejected(pointer, f"nested deeper than {max_depth} levels")
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            check_json_value(item, f"{pointer}/{_escape(key)}", max_depth, depth + 1)


def check_attributes(attributes: Mapping[str, Any], pointer: str = "/attributes") -> None:
    """Depth, size, finite numbers and instant ranges of a case's attributes (see module doc)."""
    check_json_value(attributes, pointer, MAX_ATTRIBUTE_DEPTH)
    size = len(json.dumps(attributes, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    if size > MAX_ATTRIBUTE_BYTES:
        raise InputRejected(
            pointer, f"attributes are {size} bytes of JSON; at most {MAX_ATTRIBUTE_BYTES} are accepted"
        )


def check_opened_at(opened_at: datetime, now: datetime, max_backdate: timedelta) -> None:
    """``opened_at`` may be up to ``max_backdate`` before ``now``, never after it."""
    check_instant(opened_at, "/opened_at")
    if opened_at > now:
        raise InputRejected("/opened_at", "opened_at is in the future")
    if now - opened_at > max_backdate:
        raise InputRejected(
            "/opened_at",
            f"opened_at is more than {_days(max_backdate)} before now (LIFELINE_MAX_BACKDATE); "
            "open the case at a later instant",
        )


def _days(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        return f"{span.days} days"
    return str(span)
