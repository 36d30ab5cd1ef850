"""Prefect's own settings, chosen deliberately for Lifeline and applied before Prefect is imported.

Prefect reads its settings from the environment when it is first imported, so these defaults are put
into ``os.environ`` by ``flows/__init__.py`` (importing anything under ``flows`` applies them). Each
is a *default*: a value the operator already set in the environment wins. docs/worker.md explains
each choice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

#: The defaults and why (see docs/worker.md, "Prefect settings").
PREFECT_DEFAULTS: Mapping[str, str] = {
    # Offline machines: the server's analytics call fails and logs an error on every start.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # The temporary local server takes ~10 s to start (~17 s on a new PREFECT_HOME); the default 20 s
    # timeout is too close on a 2-core machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
    # Flow and task run logs at INFO (one line per sweep that had work); the server's own at WARNING.
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    # Results are counts, never worth persisting; tasks never cache (each delivery attempt is real).
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_TASKS_DEFAULT_NO_CACHE": "true",
    # Flow runs send a heartbeat every 60 s so a Prefect server marks a killed worker's run crashed
    # within minutes (Prefect's default is 180 s; its minimum 30 s).
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "60",
}


def apply_prefect_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put each default into ``environ`` (``os.environ`` by default) unless it is already set.

    Returns the settings that were applied. Has no effect on a Prefect that was already imported in
    this process with other values (Prefect reads its settings once); ``flows`` applies them on
    import so that the worker and ``lifeline serve`` get them in time.
    """
    target = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for name, value in PREFECT_DEFAULTS.items():
        if name not in target:
            target[name] = value
            applied[name] = value
    return applied


def prefect_already_imported() -> bool:
    """True when Prefect was imported before the defaults could be applied (they may not hold)."""
    return "prefect" in sys.modules
