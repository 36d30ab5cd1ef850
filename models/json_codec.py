"""How the JSON columns are encoded and decoded: msgspec in place of the standard library's ``json``.

Every JSON column (a case's ``state`` and ``attributes``, an event's ``data``, an outbox row's
``payload``...) goes through these two functions, given to SQLAlchemy as the engine's
``json_serializer`` and ``json_deserializer`` (models.db.make_engine), on SQLite and PostgreSQL
alike. The sweep encodes and decodes a ~1.9 KB state document per case it advances, and the
listing decodes two documents per row: msgspec does each in a fifth of the time ``json`` takes
(bench/README.md, "2026-12-04 (morning)").

What the caller must know:

- The values read back are the ones ``json.loads`` gives for the same text (dicts, lists, str,
  int of any size, float, bool, None). The stored text is compact and UTF-8 (``json.dumps`` wrote
  ``", "`` and ``\\uXXXX`` escapes): an equal document, not the same bytes, so nothing may compare
  stored JSON text with ``json.dumps`` output. The hash chain never hashes stored text: it
  encodes its own canonical JSON (casework.history.hashchain), unchanged.
- Non-finite numbers never reach a column (the services refuse them: casework.cases.limits);
  msgspec would write them as ``null``.
- A value msgspec cannot encode, or text it cannot decode (a ``NaN`` token written before this
  codec, a lone surrogate), takes the standard library's path, which decodes it or raises as
  before.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return _ENCODE(value).decode()
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return json.dumps(value)


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """The value of JSON ``text`` (psycopg hands bytes or a memoryview, SQLite a str)."""
    try:
        return _DECODE(text)
    except msgspec.DecodeError:
        return json.loads(bytes(text) if isinstance(text, memoryview) else text)
