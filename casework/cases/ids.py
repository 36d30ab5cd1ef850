"""Case ids: ``cs_`` and a ULID (48-bit millisecond time, 80 random bits, Crockford base32).

Ids sort by opening time (to the millisecond), so an id order is a stable, roughly chronological
order for cursor pagination, and random enough that two processes never collide.
"""

from __future__ import annotations

import secrets
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_ID_PREFIX = "cs_"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def new_case_id(now: datetime) -> str:
    millis = int(now.timestamp() * 1000)
    return CASE_ID_PREFIX + _base32(millis, 10) + _base32(secrets.randbits(80), 16)
