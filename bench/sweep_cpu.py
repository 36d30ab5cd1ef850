"""The sweep's CPU against its floor's, in this process: the figure that still separates two
versions of the code on a host whose neighbours move wall-clock times by a third.

On the sweep benchmark's database (built by ``python -m bench.sweep``), without Prefect: every due
case is swept with ``flows.sweep_batches.sweep_batches`` (what the flow's task runs) ``--rounds``
times, the database restored to its snapshot after each; the floor (the same writes in raw SQL,
``bench.sweep.floor``) runs once, after the first round. Each round's CPU seconds of this process
are a figure against the floor's CPU; the wall seconds are printed too. To compare two commits,
run this from each checkout in turn on the same database (``bench/results`` shared, e.g. a
symbolic link), alternating, and compare the CPU figures (bench/README.md, "2026-12-04 (morning)").

    python -m bench.sweep_cpu [--quick] [--backends sqlite] [--rounds 2]
"""

from __future__ import annotations

from bench.common import Figure, backend_of, backends, emit, note, parser
from bench.sweep import FULL, QUICK, Snapshot, dataset, floor
from bench.sweep_profile import sweep_plain
from flows.sweep_batches import DEFAULT_BATCH_SIZE
from models.db import make_engine


def rounds_on(url: str, rounds: int, batch_size: int) -> None:
    backend = backend_of(url)
    engine = make_engine(url)
    snapshot = Snapshot.take(engine)
    floor_cpu = floor_wall = 0.0
    try:
        for done in range(rounds):
            wall, cpu, cases = sweep_plain(url, batch_size, lambda sweep: sweep(), as_tasks=True)
            if done == 0:
                writes = snapshot.written(engine)
                snapshot.restore(engine)
                floor_wall, _, floor_cpu = floor(engine, writes, batch_size)
                emit(Figure("sweep", f"floor_wall_seconds_{backend}", floor_wall, "s"))
            snapshot.restore(engine)
            note(f"{backend}: round {done + 1}, {cases:,} cases, {wall:.2f} s, {cpu:.2f} s CPU")
            emit(Figure("sweep", f"plain_sweep_cpu_seconds_{backend}", cpu, "s", floor_cpu))
            emit(Figure("sweep", f"plain_sweep_wall_seconds_{backend}", wall, "s", floor_wall))
    finally:
        engine.dispose()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    size = QUICK if args.quick else FULL
    for backend in backends(args):
        rounds_on(dataset(backend, size, args.postgres), args.rounds, args.batch_size)


if __name__ == "__main__":
    main()
