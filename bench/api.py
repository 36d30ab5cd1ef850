"""Benchmark 3, `api`: requests per second and latency of three routes through uvicorn on
loopback, each against the ceiling: a bare endpoint in the same server returning a body of the
same size from memory (bench/api_server.py); at full size (or with ``--floors``) also the route's
floors: the ceiling after the route's own SQL statements, sent raw (bench/api_floors.py). The
load generator (bench/api_load.py) runs in its own process. Runs on the sweep benchmark's
database (N cases; built if missing). Figures: rps (baseline: the ceiling's rps; the floors'
ratios bound the route's), p50 and p99 latency, the API's peak memory.

    python -m bench.api [--quick [--floors]] [--backends sqlite,postgresql]

Both databases by default, SQLite alone with ``--quick``.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx
from sqlalchemy import text

from bench.api_load import hammer
from bench.common import Figure, backends, emit, forked, note, parser
from bench.server import Server, running_server
from bench.sweep import FULL, QUICK, dataset
from bench.templates import attributes
from models.db import make_engine

THREADS = 4


def load(spec: dict[str, Any]) -> dict[str, float]:
    """bench/api_load.py's ``hammer(spec)`` in a process of its own, forked from this one: the load
    has its own interpreter lock without starting Python and importing httpx for each measurement
    (~0.25 s each, 20 a run)."""
    return forked(functools.partial(hammer, spec))


def sample_ids(url: str, count: int = 500) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text(f"SELECT id FROM cases ORDER BY id LIMIT {count}"))]
    engine.dispose()
    return ids


def shapes(server: Server, ids: list[str]) -> dict[str, dict[str, Any]]:
    base = server.base
    body = {"incident_type": "account_compromised", "attributes": attributes("standard", _now())}
    return {
        "get_case": {"method": "GET", "urls": [f"{base}/v1/cases/{i}" for i in ids]},
        "list_queue": {"method": "GET", "url": f"{base}/v1/cases?queue=creator-support"},
        "post_case": {"method": "POST", "url": f"{base}/v1/cases", "json": body},
    }


def auth(server: Server) -> dict[str, str]:
    """The headers of a request as the server's agent."""
    return {"Authorization": f"Bearer {server.agent_key}"}


def floor_spec(server: Server, name: str, spec: dict[str, Any], size: int) -> dict[str, Any]:
    """The load spec of ``name``'s floor (bench/api_floors.py), captured first from one real request
    of ``spec``: the route's own statements, nothing else of it."""
    url = (spec.get("urls") or [spec["url"]])[0]
    request = {"method": spec["method"], "path": url.removeprefix(server.base), "headers": auth(server)}
    response = httpx.post(
        f"{server.base}/bench/floor/{name}/capture", json=request | {"json": spec.get("json")}, timeout=30
    )
    response.raise_for_status()
    return {
        "method": spec["method"],
        "url": f"{server.base}/bench/floor/{name}?bytes={size}",
        "json": spec.get("json"),
    }


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def body_size(server: Server, spec: dict[str, Any]) -> int:
    url = (spec.get("urls") or [spec["url"]])[0]
    response = httpx.request(
        spec["method"],
        url,
        json=spec.get("json"),
        headers=auth(server),
        timeout=30,
    )
    response.raise_for_status()
    return len(response.content)


def bench_backend(url: str, seconds: float, floors: bool = True) -> None:
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    ids = sample_ids(url)
    with running_server(url) as server:
        for name, spec in shapes(server, ids).items():
            bench_shape(server, name, spec, backend, seconds, floors)
        emit(Figure("memory", f"api_peak_rss_{backend}", server.peak_rss_mb(), "MiB", 300))


def bench_shape(
    server: Server, name: str, spec: dict[str, Any], backend: str, seconds: float, floors: bool
) -> None:
    """The route's figures against its ceiling, and (``floors``) its floors' (bench/api_floors.py)."""
    size = body_size(server, spec)
    timing = {"seconds": seconds, "threads": THREADS}
    real = load(spec | timing | {"headers": auth(server)})
    ceiling = load(
        {
            "method": spec["method"],
            "url": f"{server.base}/bench/ceiling?bytes={size}",
            "json": spec.get("json"),
        }
        | timing
    )
    note(
        f"{backend} {name}: {size} bytes, {real['rps']:.0f} rps (ceiling {ceiling['rps']:.0f}), "
        f"{int(real['errors'])} errors"
    )
    emit(Figure("api", f"{name}_rps_{backend}", real["rps"], "req/s", ceiling["rps"]))
    emit(Figure("api", f"{name}_p50_{backend}", real["p50_ms"], "ms", ceiling["p50_ms"]))
    emit(Figure("api", f"{name}_p99_{backend}", real["p99_ms"], "ms", ceiling["p99_ms"]))
    if floors:
        bench_floors(server, name, spec, backend, size, timing, ceiling["rps"])


def bench_floors(
    server: Server,
    name: str,
    spec: dict[str, Any],
    backend: str,
    size: int,
    timing: dict[str, Any],
    ceiling_rps: float,
) -> None:
    """The route's floors, each as a ratio to the ceiling: the most any implementation of the route
    could reach here. A read's second floor also decodes the JSON its rows hold; the last does so
    behind the API's middleware and router, as its routes are (a write's: its statements there); a
    read's third is the last without the decoding."""
    bare = floor_spec(server, name, spec, size) | timing
    decode = "&decode=true" if spec["method"] == "GET" else ""
    urls = {"floor": bare["url"]}
    if decode:
        urls["floor_decoded"] = bare["url"] + decode
    in_api = bare["url"].replace("/bench/floor/", "/bench/api-floor/")
    if decode:
        # Its rows read but not decoded, behind the middleware: what a read would reach if the
        # parts it needs were columns rather than JSON, before computing and encoding its answer.
        urls["floor_in_api_undecoded"] = in_api
    urls["floor_in_api"] = in_api + decode
    figures = {label: load(bare | {"url": url}) for label, url in urls.items()}
    shown = ", ".join(f"{label} {figure['rps']:.0f}" for label, figure in figures.items())
    errors = sum(int(figure["errors"]) for figure in figures.values())
    note(f"{backend} {name} floors: {shown} rps (ceiling {ceiling_rps:.0f}), {errors} errors")
    for label, figure in figures.items():
        emit(Figure("api", f"{name}_{label}_rps_{backend}", figure["rps"], "req/s", ceiling_rps))


def main() -> None:
    p = parser(__doc__ or "")
    p.set_defaults(backends=None)
    p.add_argument("--floors", action="store_true", help="measure the floors with --quick too")
    args = p.parse_args()
    if args.backends is None:
        # `make bench` shows the targets on both databases; `make bench-quick` keeps to SQLite,
        # within its two minutes (PostgreSQL's server and its six measurements: ~10 s more).
        args.backends = "sqlite" if args.quick else "sqlite,postgresql"
    size = QUICK if args.quick else FULL
    for backend in backends(args):
        floors = args.floors or not args.quick  # ~15 s more: make bench-quick keeps to its 2 minutes
        bench_backend(dataset(backend, size, args.postgres), 1.5 if args.quick else 10.0, floors)


if __name__ == "__main__":
    main()
