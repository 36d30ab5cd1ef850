"""The worker's upkeep beside its escalations and deliveries: the heartbeat (what `lifeline
workers`, /healthz and the metrics read of each worker and its mode) and the signed chain digests
(casework/audit/digests.py). Each is a loop on the worker's event loop that does its database work
in a thread, logs a failure and tries again at its next turn: neither may stop the worker."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from casework.audit.digests import load_signing_key, write_digest
from casework.errors import DigestError
from casework.heartbeats import record_heartbeat
from flows.orchestrator import Orchestrator
from flows.wake_loop import Clock, StopSignal, one_line
from flows.worker_config import WorkerConfig
from models.db import session_scope

log = logging.getLogger("lifeline.worker")


async def heartbeat_loop(
    engine: Engine, config: WorkerConfig, orchestrator: Orchestrator, stop: StopSignal, clock: Clock
) -> None:
    """Beat every ``heartbeat_every``, and at once when the orchestrator's mode changes: an
    operator (or a script waiting for ``prefect``) reads the new mode within a write, not up to
    a whole interval later."""
    changed = orchestrator.changed

    def beat() -> None:
        with session_scope(engine) as session:
            record_heartbeat(session, config.worker_id, clock(), str(orchestrator.mode))

    while True:
        changed.clear()
        try:
            await asyncio.to_thread(beat)
        except Exception as exc:
            log.warning("heartbeat failed: %s", one_line(exc))
        if await _sleep_or_change(stop, changed, config.heartbeat_every.total_seconds()):
            return


async def _sleep_or_change(stop: StopSignal, changed: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``, less if ``changed`` is set meanwhile; True once stopped."""
    if changed.is_set():
        return stop.is_set()
    change = asyncio.ensure_future(changed.wait())
    stopped = asyncio.ensure_future(stop.sleep(seconds))
    try:
        await asyncio.wait({change, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        change.cancel()
        stopped.cancel()
    return stop.is_set()


async def digest_loop(
    engine: Engine, key_file: Path, every_seconds: float, stop: StopSignal, clock: Clock
) -> None:
    """Sign a digest of every case's chain head now and every ``every_seconds`` (a history cut
    short after it is named by `audit verify`). A key that cannot be loaded is logged once and no
    digest is signed; the worker goes on."""
    try:
        key = load_signing_key(key_file)
    except DigestError as exc:
        log.error("no chain digests: %s", exc)
        return
    while True:
        try:
            await asyncio.to_thread(_write_digest, engine, key, clock)
        except Exception as exc:
            log.warning("chain digest failed: %s", one_line(exc))
        if await stop.sleep(every_seconds):
            return


def _write_digest(engine: Engine, key: Any, clock: Clock) -> None:
    with session_scope(engine) as session:
        row = write_digest(session, key, clock())
        log.info("signed a chain digest of %d cases (key %s)", row.cases, row.key_id[:12])
