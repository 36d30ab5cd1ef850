"""`lifeline worker`: escalate due cases on time and deliver their notifications (see docs/worker.md)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from cli.apps import app
from cli.common import fail


def _log_to_stderr() -> None:
    """The worker's own log lines at INFO on stderr (Prefect configures its own loggers)."""
    logger = logging.getLogger("lifeline")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


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
    """Run the escalation worker until Ctrl-C or SIGTERM.

    It sleeps until the earliest case deadline (looking again at least every second), runs an
    `escalation-sweep` flow when anything is due, and delivers notifications with
    `deliver-notifications`. Without PREFECT_API_URL it uses Prefect's temporary local server.
    """
    from flows.webhooks import load_targets
    from flows.worker import WorkerConfig, default_worker_id, run_worker  # applies Prefect defaults
    from models.migrate import SchemaError

    _log_to_stderr()
    overrides: dict[str, Any] = {"batch_size": batch_size, "worker_id": worker_id or default_worker_id()}
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

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("lifeline.worker").info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        run_worker(config, stop)
    except SchemaError as exc:
        fail(exc)
