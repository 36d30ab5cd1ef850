"""The escalation worker's configuration (flows/worker.py): what it needs to run, read from the
LIFELINE_* environment or given by the caller (``lifeline worker``'s options, ``lifeline serve``, tests)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from casework.settings import Settings, get_settings
from flows.orchestrator import prefect_api_configured
from flows.outbox_delivery import DEFAULT_BATCH
from flows.sweep_batches import DEFAULT_BATCH_SIZE, DEFAULT_BATCHES_PER_TASK, DEFAULT_MAX_BATCHES
from flows.wake_loop import DEFAULT_MAX_IDLE
from flows.webhooks import DeliveryPolicy

#: A sweep's flow run whose Prefect part (before the sweep begins, after it ends) takes longer than
#: this is left to finish on its own and the sweep runs without Prefect meanwhile (that part
#: normally takes ~0.1 s; a busy Prefect server on SQLite was measured stalling one by ~2.4 s). The
#: sweep itself is not bounded by it (flows/run_progress.py).
FLOW_RUN_PATIENCE = timedelta(seconds=2)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerConfig:
    """Everything the worker needs; ``from_settings`` reads the LIFELINE_* environment."""

    database_url: str
    channels_file: Path | None = None
    worker_id: str = field(default_factory=default_worker_id)
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batches: int = DEFAULT_MAX_BATCHES
    #: Batches per Prefect task (and per hop to a thread without Prefect), each its own transaction.
    batches_per_task: int = DEFAULT_BATCHES_PER_TASK
    max_idle: timedelta = DEFAULT_MAX_IDLE
    heartbeat_every: timedelta = timedelta(seconds=5)
    delivery: DeliveryPolicy = DeliveryPolicy()
    delivery_batch: int = DEFAULT_BATCH
    max_concurrent_deliveries: int = 4
    #: The Ed25519 key that signs chain digests (LIFELINE_SIGNING_KEY_FILE); None: no digests.
    signing_key_file: Path | None = None
    #: How often a signed digest of every case's chain head is written.
    digest_every: timedelta = timedelta(minutes=5)
    #: A sweep's flow run whose Prefect part takes longer is left to finish on its own (see above).
    flow_run_patience: timedelta = FLOW_RUN_PATIENCE
    #: Serve both flows as Prefect deployments; None: only when PREFECT_API_URL names a server.
    serve_deployments: bool | None = None
    #: Freeze the heap after the policies load (``sweep_batches.preload_policies``): only when the
    #: process is nothing but this worker (``lifeline worker`` sets it).
    freeze_heap: bool = False
    #: Sweep a SQLite file in two lane processes (flows.sweep_lanes), started with the worker:
    #: ``lifeline worker`` sets it; LIFELINE_SWEEP_PROCESSES=0 turns it off there.
    sweep_processes: bool = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> WorkerConfig:
        settings = settings or get_settings()
        config = cls(
            database_url=settings.database_url,
            channels_file=settings.channels_file,
            signing_key_file=settings.signing_key_file,
        )
        return replace(config, **overrides)

    def should_serve(self) -> bool:
        if self.serve_deployments is not None:
            return self.serve_deployments
        return prefect_api_configured()


def resolve_config(config: WorkerConfig | Settings | str) -> WorkerConfig:
    """A WorkerConfig from a WorkerConfig, the LIFELINE settings or a database URL."""
    if isinstance(config, WorkerConfig):
        return config
    if isinstance(config, Settings):
        return WorkerConfig.from_settings(config)
    return WorkerConfig.from_settings(get_settings(), database_url=config)
