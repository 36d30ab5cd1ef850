"""A bare sweeping worker for the crash tests: sweeps due cases in small batches until none is due,
printing one line per committed batch. No Prefect (its server start would dominate a test that
restarts the worker a dozen times); the flow path runs the same ``sweep_batch`` under
prefect_test_harness in test_flows.py.

    python -m tests.flows.sweep_crash_worker DATABASE_URL BATCH_SIZE NOW

``NOW`` (ISO 8601 with offset) is the instant every batch sweeps at: the test injects it, so what
is due does not depend on the day the test runs.
"""

from __future__ import annotations

import sys
from datetime import datetime

from casework.registry import policy_registry
from flows.sweep_batches import sweep_batch
from models.db import make_engine
from tests.casework.builders import versioned
from tests.flows.scenarios import STEP, ladder_policy


def seed_policy_cache() -> None:
    """The test policy is registered as a Python repr, not as loader JSON: put the parsed policy in
    this process's registry cache under the version the test registered (1)."""
    policy = versioned(ladder_policy(STEP))
    policy_registry._policies[(policy.id, 1, policy.sha256)] = policy


def main(url: str, batch_size: int, now: datetime) -> None:
    if now.tzinfo is None:
        raise SystemExit(f"NOW must carry a UTC offset: {now.isoformat()}")
    seed_policy_cache()
    engine = make_engine(url)
    while True:
        counts = sweep_batch(engine, now, batch_size)
        print(f"batch cases={counts.cases} events={counts.events}", flush=True)
        if counts.cases < batch_size:
            break
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3]))
