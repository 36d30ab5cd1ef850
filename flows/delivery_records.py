"""Recording deliveries together: one transaction for every answer that arrived meanwhile.

Recording each delivery in a transaction of its own cost ~6-8 ms of database and ORM work per
notification on the 2-core test machine, which alone held a worker under ~150 deliveries a second.
Here each delivered notification joins a queue; one writer per worker (per event loop and engine)
records whatever is queued in one transaction (``casework.history.outbox.record_delivered_many``)
while the next answers queue up behind it, so under load a transaction records dozens.

Exactly once holds as before: a row is marked delivered and its ``notification_delivered`` event
written in the same transaction, only while the row is still pending. If that transaction fails
(a case changed under it, the database went away) each answer is recorded in a transaction of its
own, so one bad row never holds up the others. A worker stopped before its answers were written
leaves those rows pending; they are sent again (the receiver drops a repeated ``notification_id``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime

from sqlalchemy import Engine

from casework.history.outbox import Answer, record_delivered, record_delivered_many
from flows.wake_loop import one_line
from models.db import session_scope

log = logging.getLogger("lifeline.worker")

#: Answers recorded in one transaction at most.
MAX_BATCH = 500
Outcomes = dict[int, bool | BaseException]


class DeliveryRecorder:
    """Queues delivered notifications of one engine and records them in batches (group commit)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[tuple[Answer, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def delivered(self, notification_id: int, at: datetime, status_code: int) -> bool:
        """Record a delivery; True when recorded here, False when the row was no longer pending
        (another worker recorded it). Raises what recording it alone raised."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(((notification_id, at, status_code), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = await asyncio.to_thread(record_answers, self.engine, [a for a, _ in batch])
            except BaseException:  # cancelled with the worker: the rows stay pending
                for _, future in batch:
                    future.cancel()
                raise
            for (nid, _, _), future in batch:
                outcome = outcomes[nid]
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


def record_answers(engine: Engine, answers: list[Answer]) -> Outcomes:
    """Record ``answers`` in one transaction, or (when it fails) each in its own; the outcome per id.
    ``recorded_at`` is the latest answer's instant (each event's ``at`` is its own answer's)."""
    now = max(at for _, at, _ in answers)
    try:
        with session_scope(engine) as session:
            recorded = record_delivered_many(session, answers, now)
        return {nid: nid in recorded for nid, _, _ in answers}
    except Exception as exc:
        if len(answers) == 1:
            return {answers[0][0]: exc}
        log.warning("recording %d deliveries together failed (%s); one by one", len(answers), one_line(exc))
    outcomes: Outcomes = {}
    for nid, at, code in answers:
        try:
            with session_scope(engine) as session:
                outcomes[nid] = record_delivered(session, nid, at, code)
        except Exception as exc:
            outcomes[nid] = exc
    return outcomes


_RECORDERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, DeliveryRecorder]] = (
    weakref.WeakKeyDictionary()
)


def recorder_for(engine: Engine) -> DeliveryRecorder:
    """The running event loop's recorder for ``engine`` (one per worker: its delivery runs, with or
    without Prefect, share it, so their answers are recorded together)."""
    per_loop = _RECORDERS.setdefault(asyncio.get_running_loop(), {})
    recorder = per_loop.get(id(engine))
    if recorder is None or recorder.engine is not engine:
        recorder = per_loop[id(engine)] = DeliveryRecorder(engine)
    return recorder
