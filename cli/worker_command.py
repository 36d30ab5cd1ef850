"""`lifeline worker`: escalate due cases on time and deliver their notifications (see docs/worker.md)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from cli.apps import app
from cli.common import fail
from cli.log_output import log_to_stderr

#: On stop, Prefect's queued events and logs get this long each (a flow run's last states; an
#: unreachable server would otherwise hold the exit for the full time).
DRAIN_SECONDS = 0.25


@app.command()
def worker(
    database_url: str = typer.Option(
        None, "--database-url", help="Database to work on (default: LIFELINE_DATABASE_URL)."
    ),
    channels_file: str = typer.Option(
        None, "--channels-file", help="Channel -> webhook file (default: LIFELINE_CHANNELS_FILE)."
    ),
    batch_size: int = typer.Option(200, min=1, help="Cases claimed and escalated per transaction."),
    worker_id: str = typer.Option(None, help="Name in the heartbeat table (default: host:pid)."),
    serve: bool = typer.Option(
        None,
        "--serve/--no-serve",
        help="Serve both flows as Prefect deployments (default: when PREFECT_API_URL is set).",
    ),
) -> None:
    """Run the escalation worker until Ctrl-C or SIGTERM (it stops within 2 s, exit code 0).

    It sleeps until the earliest case deadline (looking again at least every second), runs an
    `escalation-sweep` flow when anything is due, and delivers notifications with
    `deliver-notifications`. It sweeps at once on start, outside a flow run while Prefect is not
    answering yet (or goes away). Without PREFECT_API_URL it starts Prefect's temporary local server.
    """
    from flows.webhooks import load_targets
    from flows.worker import run_worker  # applies Prefect defaults
    from flows.worker_config import WorkerConfig, default_worker_id
    from models.migrate import SchemaError

    log_to_stderr()
    overrides: dict[str, Any] = {
        "batch_size": batch_size,
        "worker_id": worker_id or default_worker_id(),
        "freeze_heap": True,
        "sweep_processes": True,
    }
    if database_url:
        overrides["database_url"] = database_url
    if channels_file:
        overrides["channels_file"] = Path(channels_file)
    if serve is not None:
        overrides["serve_deployments"] = serve
    config = WorkerConfig.from_settings(**overrides)
    try:
        load_targets(config.channels_file)  # refuse a bad channels file now, not at each delivery
    except (OSError, ValueError) as exc:
        fail(f"channels file {config.channels_file}: {exc}")
    stop = threading.Event()

    requested: list[float] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        requested.append(time.monotonic())
        logging.getLogger("lifeline.worker").info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    failure: list[BaseException] = []
    thread = threading.Thread(
        target=_run_in_thread, args=(run_worker, config, stop, failure), name="lifeline-worker"
    )
    thread.start()
    while thread.is_alive():  # the main thread only waits, so it is free to take signals
        thread.join(0.05)
    if failure and isinstance(failure[0], SchemaError):
        fail(failure[0])
    if failure:
        raise failure[0]
    _exit_now(requested[0] if requested else None)


def _run_in_thread(run: Any, config: Any, stop: threading.Event, failure: list[BaseException]) -> None:
    """The worker's event loop runs in a thread of its own: Prefect installs SIGTERM handlers of its
    own around flow runs and in its Runner, but only in the main thread, where they would raise
    into whatever the worker was doing (exit code 1, or no reaction). Here SIGTERM always reaches
    the worker's handler."""
    try:
        run(config, stop)
    except BaseException as exc:  # handed to the main thread
        failure.append(exc)


def _exit_now(requested: float | None) -> None:
    """Exit 0 at once after a clean stop, so SIGTERM stops a worker within 2 s. Interpreter teardown
    after Prefect was imported takes 1-2 s on a loaded machine, Prefect's exit handlers wait on an
    unreachable server, and an import of Prefect still under way in the background would hold the
    exit until it finished. Instead: when Prefect is ready, its queued events and logs get
    ``DRAIN_SECONDS`` each; a temporary server this worker started is sent SIGTERM; logs are
    flushed; the process ends."""
    from flows.orchestrator import PREFECT_READY

    if PREFECT_READY.is_set():
        with contextlib.suppress(Exception):
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            EventsWorker.drain_all(timeout=DRAIN_SECONDS)
            APILogWorker.drain_all(timeout=DRAIN_SECONDS)
    servers = getattr(sys.modules.get("prefect.server.api.server"), "SubprocessASGIServer", None)
    for server in list(getattr(servers, "_instances", {}).values()):
        with contextlib.suppress(Exception):
            if server.server_process is not None:
                server.server_process.terminate()  # it stops on its own; not waited for
                server.server_process.wait(timeout=DRAIN_SECONDS)
    if requested is not None:  # the worker's own part of a stop (tests compare it with the whole)
        logging.getLogger("lifeline.worker").info(
            "exit 0, %.2f s after the stop request", time.monotonic() - requested
        )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
