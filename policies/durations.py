"""ISO 8601 durations as the policy language accepts them: weeks, days, hours, minutes, seconds.

Years and months are refused: their length depends on the calendar date, so a target of ``P1M`` would
mean different things to different cases. ``P`` and ``PT`` alone are refused too. The JSON Schema
carries the same grammar as a pattern; :func:`parse_duration` is the one place that turns the text
into a ``timedelta`` (and re-checks it, so a value that slipped past the schema never raises later).
"""

from __future__ import annotations

import re
from datetime import timedelta

_TIME = r"T(?:[0-9]+H(?:[0-9]+M)?(?:[0-9]+S)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
#: The grammar, also used verbatim by the schema's ``duration`` pattern (a test keeps them equal).
DURATION_PATTERN = rf"^P(?:[0-9]+W(?:[0-9]+D)?(?:{_TIME})?|[0-9]+D(?:{_TIME})?|{_TIME})$"
DURATION_EXAMPLES = "e.g. PT15M, PT4H, P1D, P1DT12H, P2W"

_GRAMMAR = re.compile(DURATION_PATTERN.removesuffix("$"))
_PARTS = re.compile(
    r"P(?:(?P<weeks>[0-9]+)W)?(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+)S)?)?"
)
#: Larger than any sensible SLA target; keeps ``timedelta`` far from its overflow.
MAX_DURATION = timedelta(days=3660)


class DurationError(ValueError):
    """The text is not a duration of the policy language (the message says why, with examples)."""


def parse_duration(text: str) -> timedelta:
    """``"PT15M"`` -> 15 minutes. Raises DurationError on anything the grammar refuses or too long."""
    if not isinstance(text, str) or _GRAMMAR.fullmatch(text) is None:
        raise DurationError(f"{text!r} is not an ISO 8601 duration ({DURATION_EXAMPLES})")
    parts = _PARTS.fullmatch(text)
    assert parts is not None  # the grammar is a subset of the parts pattern
    amounts = {name: int(value) for name, value in parts.groupdict().items() if value}
    if any(len(str(v)) > 7 for v in amounts.values()):
        raise DurationError(f"{text!r} is longer than {MAX_DURATION.days} days")
    value = timedelta(**amounts)
    if value > MAX_DURATION:
        raise DurationError(f"{text!r} is longer than {MAX_DURATION.days} days")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest duration text for ``value`` (for messages and simulation output)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"
