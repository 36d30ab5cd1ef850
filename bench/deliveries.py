"""Benchmark `deliveries`: notifications a worker delivers per second to a local receiver.

Per backend: a database of N cases (bench/dataset.py) and, for each mode, N pending outbox rows (one
per case, spread over the bundled policies' nine webhook channels) not yet due. A fast receiver
answers every POST with 200 in a process of its own (bench/receiver.py); the channels file points
every channel at it. `lifeline worker` runs as operators run it, once with the Prefect server
(deliveries are `deliver-notifications` flow runs) and once with an unreachable one (degraded: the
same functions outside a flow run). Once the worker is warm, the rows are made due at T0;
rate = N / (last delivered_at - T0). The baseline, measured once in the same run (on the first
backend's rows: it involves no database), is the receiver's ceiling: the same N signed POSTs sent
by bare httpx clients with the worker's bound (32 per channel), nothing recorded. Target: >= 300
per second per worker. On a shared, loaded machine the wall-clock rate says more about the load
than the worker, so each is also given per CPU-second (the worker process's user + system time over
the run; the client's for the ceiling): what one free core would do. Also checked: every row
delivered, each with one ``notification_delivered`` event.

    python -m bench.deliveries [--quick] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, text

from bench.common import RESULTS, ROOT, Figure, backends, database_url, drop_database, emit, note, parser
from bench.dataset import Mix, build
from bench.prefect_server import shared_prefect
from bench.workers import (
    heartbeat_mode,
    spawn_worker,
    stop_worker,
    unreachable_prefect_url,
    wait_for,
    worker_environment,
)
from flows.signing import encode_body, signed_headers

FULL, QUICK = 3_000, 600
MODES = ("prefect", "degraded")
SECRET = "whsec_bench"
#: The worker's bound: requests in flight to one channel (flows/http_clients.py).
PER_CHANNEL = 32
#: Rows are made due this long after the worker is warm: more than its wake loop's longest sleep
#: (`max_idle`, 1 s), so it has seen them before they fall due.
LEAD = timedelta(seconds=1.2)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.receiver"], cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def load(url: str, cases: int, admin_url: str) -> tuple[Engine, dict[str, list[int]]]:
    """The database, and per mode the ids of its N pending rows (due in 2100 until the mode runs)."""
    drop_database(url, admin_url)
    loaded = datetime.now(UTC)
    quiet = loaded + timedelta(hours=2)
    engine = build(
        url, Mix(total=cases, due=0, breaches=0, resolved=0, due_at=loaded, not_before=quiet), loaded
    )
    with engine.begin() as conn:
        samples: dict[str, int] = dict(
            conn.execute(
                text("SELECT channel, MIN(id) FROM notifications WHERE channel != 'creator' GROUP BY channel")
            ).all()
        )
        payloads = {
            channel: _as_dict(
                conn.execute(text("SELECT payload FROM notifications WHERE id = :i"), {"i": nid}).scalar_one()
            )
            for channel, nid in samples.items()
        }
        free: dict[str, list[int]] = defaultdict(list)
        query = (
            "SELECT e.case_id, e.seq FROM case_events e LEFT JOIN notifications n "
            "ON n.case_id = e.case_id AND n.event_seq = e.seq WHERE n.id IS NULL ORDER BY e.case_id, e.seq"
        )
        for case_id, seq in conn.execute(text(query)):
            free[case_id].append(seq)
        rows = _rows(free, payloads, cases, loaded)
        first = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM notifications")).scalar_one()) + 1
        insert = text(
            "INSERT INTO notifications (case_id, event_seq, channel, payload, status, attempts, "
            "next_attempt_at, created_at, redeliveries) VALUES (:case_id, :event_seq, :channel, "
            ":payload, 'pending', 0, :due, :created, 0)"
        ).bindparams(bindparam("payload", type_=_json_type()))
        conn.execute(insert, rows)
        query = "SELECT id FROM notifications WHERE id >= :first ORDER BY id"
        ids = [nid for (nid,) in conn.execute(text(query), {"first": first})]
    half = len(ids) // len(MODES)
    return engine, {mode: ids[i * half : (i + 1) * half] for i, mode in enumerate(MODES)}


def _json_type() -> Any:
    from sqlalchemy import JSON

    return JSON()


def _rows(
    free: dict[str, list[int]], payloads: dict[str, Any], per_mode: int, now: datetime
) -> list[dict[str, Any]]:
    """``per_mode`` rows for each mode, round-robin over the cases and the channels."""
    channels = sorted(payloads)
    slots = [(case_id, seq) for case_id, seqs in free.items() for seq in seqs[: len(MODES)]]
    slots.sort(key=lambda slot: free[slot[0]].index(slot[1]))  # every case once before any twice
    rows = []
    for n, (case_id, seq) in enumerate(slots[: per_mode * len(MODES)]):
        channel = channels[n % len(channels)]
        payload = {**payloads[channel], "case_id": case_id, "event_seq": seq, "channel": channel}
        rows.append(
            {
                "case_id": case_id,
                "event_seq": seq,
                "channel": channel,
                "payload": payload,
                "due": FAR,
                "created": now,
            }
        )
    return rows


def write_channels(engine: Engine, receiver: str) -> Path:
    import json

    with engine.connect() as conn:
        names = [
            c
            for (c,) in conn.execute(
                text("SELECT DISTINCT channel FROM notifications WHERE channel != 'creator'")
            )
        ]
    path = RESULTS / "deliveries-channels.json"
    channels = {name: {"url": f"{receiver}/{name}", "secret": SECRET} for name in names}
    path.write_text(json.dumps({"channels": channels}))
    return path


async def ceiling(engine: Engine, receiver: str, ids: list[int]) -> tuple[float, float]:
    """(POSTs per second, POSTs per CPU-second) of bare httpx clients sending the same signed
    bodies with the worker's bounds (32 per channel), nothing recorded. One client per channel of
    8 connections: one client of 200 connections spent 3-4 times the CPU per request (httpx's pool
    scans its connections for each request: flows/http_clients.py)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, channel, payload FROM notifications WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        ).all()
    per_channel: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(PER_CHANNEL))
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    # One client per channel, not per row: each AsyncClient loads the CA bundle (~50-100 ms of CPU
    # here), and the row-wise comprehension built 600-1,823 of them before the first POST.
    clients = {channel: httpx.AsyncClient(timeout=10.0, limits=limits) for channel in {c for _, c, _ in rows}}

    async def send(nid: int, channel: str, payload: Any) -> None:
        async with per_channel[channel]:
            body = encode_body({**_as_dict(payload), "notification_id": nid, "kind": "notified"})
            headers = signed_headers(SECRET, body, int(time.time()))
            response = await clients[channel].post(f"{receiver}/{channel}", content=body, headers=headers)
            response.raise_for_status()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(send(nid, channel, payload) for nid, channel, payload in rows))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    for client in clients.values():
        await client.aclose()
    return len(rows) / wall, len(rows) / cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _as_dict(payload: Any) -> dict[str, Any]:
    import json

    return dict(json.loads(payload) if isinstance(payload, str) else payload)


def delivered(engine: Engine, ids: list[int]) -> tuple[int, datetime | None]:
    with engine.connect() as conn:
        count, last = conn.execute(
            text(
                "SELECT COUNT(*), MAX(delivered_at) FROM notifications "
                "WHERE status = 'delivered' AND id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": ids},
        ).one()
    if isinstance(last, str):
        last = datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return int(count), last


def recorded_once(engine: Engine, ids: list[int]) -> int:
    """How many of the rows are delivered with their ``notification_delivered`` event (one each:
    the event's dedupe key is unique per case)."""
    keys = [f"notification:{nid}:delivered" for nid in ids]
    query = text(
        "SELECT COUNT(*) FROM case_events e JOIN notifications n ON n.case_id = e.case_id "
        "AND e.dedupe_key = 'notification:' || CAST(n.id AS VARCHAR(20)) || :suffix "
        "WHERE n.status = 'delivered' AND e.dedupe_key IN :keys"
    ).bindparams(bindparam("keys", expanding=True))
    with engine.connect() as conn:
        return int(conn.execute(query, {"keys": keys, "suffix": ":delivered"}).scalar_one())


def run_mode(
    backend: str, url: str, engine: Engine, mode: str, ids: list[int], channels: Path
) -> tuple[float, float]:
    """(deliveries per second, per CPU-second of the worker) of one worker in ``mode``."""
    prefect = None if mode == "prefect" else unreachable_prefect_url()
    env = worker_environment(f"deliveries-{mode}", prefect)
    log = RESULTS / f"deliveries-worker-{backend}-{mode}.log"
    log.write_bytes(b"")
    worker_id = f"bench-deliveries-{mode}"
    proc = spawn_worker(url, worker_id, log, env, "--channels-file", str(channels))
    try:
        wait_for(lambda: heartbeat_mode(engine, worker_id) == mode, 120, f"a worker in {mode} mode", proc)
        if mode == "prefect":  # warm: the sweep it runs as a flow when Prefect comes up has finished
            finished = lambda: "Finished in state" in log.read_text(errors="replace")  # noqa: E731
            wait_for(finished, 60, "the worker's first flow run", proc)
        t0 = datetime.now(UTC) + LEAD
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE notifications SET next_attempt_at = :t0 WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"t0": t0, "ids": ids},
            )
        time.sleep(max((t0 - datetime.now(UTC)).total_seconds(), 0))
        cpu = cpu_seconds(proc.pid)
        wait_for(lambda: delivered(engine, ids)[0] == len(ids), 60 + len(ids) / 20, "every delivery", proc)
        cpu = cpu_seconds(proc.pid) - cpu
    finally:
        code, took = stop_worker(proc)
        note(f"{backend} {mode}: worker stopped in {took:.2f} s, exit {code}")
    _, last = delivered(engine, ids)
    assert last is not None
    return len(ids) / (last - t0).total_seconds(), len(ids) / cpu


def bench_backend(
    backend: str, size: int, admin_url: str, base: str, top: tuple[float, float] | None
) -> tuple[float, float]:
    """Both modes on ``backend`` against the receiver at ``base``; the ceiling ``top`` (POSTs per
    second, per CPU-second), measured here on this backend's rows when not given, is returned."""
    url = database_url(backend, f"deliveries_{size}", admin_url)
    note(f"{backend}: loading {size:,} cases and {size * len(MODES):,} pending notifications")
    engine, ids = load(url, size, admin_url)
    channels = write_channels(engine, base)
    if top is None:
        top = asyncio.run(ceiling(engine, base, ids[MODES[0]]))
        note(f"receiver ceiling {top[0]:,.0f} POSTs/s, {top[1]:,.0f} per CPU-second")
    httpx.post(f"{base}/reset")
    for mode in MODES:
        rate, per_cpu = run_mode(backend, url, engine, mode, ids[mode], channels)
        suffix = "" if mode == "prefect" else "_degraded"
        emit(Figure("deliveries", f"deliveries_per_second_{backend}{suffix}", rate, "/s", top[0]))
        emit(Figure("deliveries", f"deliveries_per_cpu_second_{backend}{suffix}", per_cpu, "/s", top[1]))
    stats = httpx.get(f"{base}/stats").json()
    every = [nid for mode in MODES for nid in ids[mode]]
    total, events = len(every), recorded_once(engine, every)
    note(f"{backend}: receiver saw {stats}; {events} notification_delivered events for {total} rows")
    emit(Figure("deliveries", f"recorded_once_{backend}", events, "events", total))
    engine.dispose()
    return top


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    size = QUICK if args.quick else FULL
    with shared_prefect(args.postgres):
        receiver, base = start_receiver()
        try:
            # One receiver and one ceiling for the run: the ceiling is HTTP to the receiver only
            # (the same signed bodies, whichever database they were read from).
            top = None
            for backend in backends(args):
                top = bench_backend(backend, size, args.postgres, base, top)
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
