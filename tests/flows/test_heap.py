"""flows/heap.py in a process of its own: freezing changes the collector of the whole process, so
never in the test run's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from flows.heap import YOUNG_THRESHOLD


def _in_a_process(body: str) -> dict[str, int]:
    script = textwrap.dedent(body) + "\nprint(json.dumps(found))\n"
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    found: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_freezing_keeps_what_is_alive_out_of_the_collector_and_collects_the_young_less_often() -> None:
    found = _in_a_process(
        """
        import gc, json
        from flows.heap import freeze_long_lived
        before = gc.get_freeze_count()
        kept = [[i] for i in range(5_000)]  # alive when frozen: stays so, never walked again
        frozen = freeze_long_lived()
        found = {"before": before, "frozen": frozen, "young": gc.get_threshold()[0],
                 "tracked": len(gc.get_objects())}
        later = [[i] for i in range(1_000)]  # what Prefect builds on its first flow run, say
        found["again"] = freeze_long_lived() - frozen  # a second freeze takes what came since
        """
    )
    assert found["before"] == 0
    assert found["frozen"] >= 5_000
    assert found["tracked"] < 5_000  # the kept lists are out of the collector's sight
    assert found["young"] == YOUNG_THRESHOLD
    assert found["again"] >= 1_000


def test_a_worker_that_preloads_with_freeze_heap_freezes_and_tunes_the_collector(tmp_path: Path) -> None:
    found = _in_a_process(
        f"""
        import gc, json
        from models.db import make_engine
        from models.migrate import migrate
        from flows.sweep_batches import preload_policies
        url = "sqlite:///{tmp_path}/heap.sqlite"
        migrate(url)
        engine = make_engine(url)
        start = gc.get_threshold()[0]
        plain = preload_policies(engine)
        found = {{"unfrozen": gc.get_freeze_count(), "unchanged": gc.get_threshold()[0] == start}}
        preload_policies(engine, freeze_heap=True)
        found |= {{"frozen": gc.get_freeze_count(), "young": gc.get_threshold()[0], "problems": len(plain)}}
        """
    )
    assert found["problems"] == 0
    assert found["unfrozen"] == 0 and found["unchanged"]  # without freeze_heap: untouched
    assert found["frozen"] > 10_000  # modules, SQLAlchemy's machinery, the policies
    assert found["young"] == YOUNG_THRESHOLD
