"""Benchmark `migration`: a stricter version of account-compromised rebases (and recomputes) N open
cases on SQLite (1,000; quick 200), as POST /v1/policies/{id}/migrations and `lifeline policies
migrate` run it (casework.migration.policy_migration.run_migration: each case its own transaction and
version check), against a baseline measured in the same run on a copy of the same database: a bulk
acknowledge of the same cases through the same per-case runner (casework.bulk.runner).

Figures: `migration_rebase_seconds_sqlite`, `migration_recompute_seconds_sqlite` and
`migration_dry_run_seconds_sqlite` (baseline: the bulk acknowledge), `migration_baseline_seconds_sqlite`.

    python -m bench.migration [--quick]
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Engine

from bench.bulk import ACTOR, OPENED, build
from bench.common import RESULTS, Figure, emit, note, parser
from casework.bulk.runner import Target, run_bulk
from casework.migration.policy_migration import MigrationRequest, run_migration
from casework.registry import policy_registry
from models.db import make_engine, session_scope
from policies.loader import bundled_policies_dir, parse_policy_text
from sla_engine.migration import MigrationMode

FULL, QUICK = 1_000, 200
AT = OPENED + timedelta(minutes=5)


def register_stricter(engine: Engine) -> None:
    """Version 2 of account-compromised: the P1 first response in 10 minutes, not 15."""
    text = (bundled_policies_dir() / "account_compromised.json").read_text()
    policy = parse_policy_text(text.replace('"P1": "PT15M"', '"P1": "PT10M"', 1), "account_compromised.json")
    with session_scope(engine) as session:
        policy_registry.register_policies(session, [policy], OPENED)


def timed(
    engine: Engine, targets: Sequence[Target], mode: MigrationMode | None, dry_run: bool = False
) -> float:
    started = time.perf_counter()
    if mode is None:
        results = run_bulk(engine, targets, "acknowledge", {}, ACTOR, lambda: AT)
        done = sum(r.result == "done" for r in results)
    else:
        request = MigrationRequest("account-compromised", 2, mode, "admin:bench", dry_run)
        done = run_migration(engine, request, targets, lambda: AT)["counts"]["migrated"]
    seconds = time.perf_counter() - started
    label = f"{mode or 'bulk acknowledge'}{' (dry run)' if dry_run else ''}"
    note(f"{label}: {done} of {len(targets)} in {seconds:.2f} s")
    return seconds


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    size = QUICK if args.quick else FULL
    RESULTS.mkdir(parents=True, exist_ok=True)
    built = RESULTS / f"migration_{size}.sqlite"
    targets = build(built, size)
    seconds: dict[str, float] = {}
    for name, mode, dry_run in [
        ("baseline", None, False),
        ("dry_run", MigrationMode.REBASE, True),
        ("rebase", MigrationMode.REBASE, False),
        ("recompute", MigrationMode.RECOMPUTE, False),
    ]:
        copy = RESULTS / f"migration_{size}_{name}.sqlite"
        shutil.copyfile(built, copy)
        engine = make_engine(f"sqlite:///{copy}")
        try:
            register_stricter(engine)
            seconds[name] = timed(engine, targets, mode, dry_run)
        finally:
            engine.dispose()
    base = seconds["baseline"]
    for name in ("rebase", "recompute", "dry_run"):
        emit(Figure("migration", f"migration_{name}_seconds_sqlite", seconds[name], "s", base))
    emit(Figure("migration", "migration_baseline_seconds_sqlite", base, "s"))


if __name__ == "__main__":
    main()
