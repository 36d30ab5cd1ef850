"""`lifeline worker` in a process of its own for the end-to-end worker tests, with the flow tests'
ladder policy in its registry cache (registered as a Python repr, not as loader JSON; see
sweep_crash_worker.py).

    LIFELINE_TEST_LADDER_STEP=1 python -m tests.flows.worker_process worker --database-url URL ...
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from casework.registry import policy_registry
from tests.casework.builders import versioned
from tests.flows.scenarios import ladder_policy


def seed_policy_cache(step: timedelta) -> None:
    policy = versioned(ladder_policy(step))
    policy_registry._policies[(policy.id, 1, policy.sha256)] = policy


if __name__ == "__main__":
    # The seeded cache is this process's: the SQLite sweep's lane processes (flows.sweep_lanes) would
    # read the stored repr and fail to parse it. tests/flows/test_sweep_lanes.py runs them with the
    # bundled policies.
    os.environ.setdefault("LIFELINE_SWEEP_PROCESSES", "0")
    seed_policy_cache(timedelta(seconds=float(os.environ.get("LIFELINE_TEST_LADDER_STEP", "2"))))
    from cli.main import app

    app(sys.argv[1:], prog_name="lifeline")
