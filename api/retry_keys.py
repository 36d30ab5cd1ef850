"""Idempotency-Key for the POSTs that act on many cases (bulk actions, policy migrations): a retry
with the same key and body answers the first run's result (header ``Idempotent-Replayed: true``)
instead of acting on the cases again; the same key with another body is 422
``idempotency-key-reused``. The records are casework.bulk.idempotency's, keys scoped by API key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Response
from sqlalchemy import Engine

from casework.bulk import idempotency as bulk_keys
from casework.cases import idempotency
from casework.errors import IdempotencyRace
from models.db import session_scope

RetryKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe key: the same key and body get the first answer"),
]


def run_once(
    engine: Engine,
    owner_id: int,
    key: str | None,
    request: Any,
    now: datetime,
    run: Callable[[], dict[str, Any]],
    record: bool = True,
) -> tuple[dict[str, Any], bool]:
    """``run()``'s JSON answer and False, or the answer recorded under ``key`` for the same
    ``request`` and True (without running). ``record=False`` (a dry run, which writes nothing)
    still refuses a key used for another request but leaves the key free for the real run."""
    if key is None:
        return run(), False
    stored_key = idempotency.scoped_key(owner_id, key)
    fingerprint = idempotency.fingerprint(request)
    with session_scope(engine, write=False) as session:
        previous = bulk_keys.find(session, stored_key, fingerprint, now)
    if previous is not None:
        return previous, True
    answer = run()
    if record:
        try:
            with session_scope(engine) as session:
                bulk_keys.remember(session, stored_key, fingerprint, answer, now)
        except IdempotencyRace:
            pass  # a concurrent twin recorded its answer first; each case was acted on once anyway
    return answer, False


def json_answer(body: str, replayed: bool) -> Response:
    """The 200 answer, marked ``Idempotent-Replayed`` when it is a recorded one."""
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, 200, headers, media_type="application/json")
