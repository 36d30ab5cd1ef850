"""Benchmark `console_pages`: the console's server-rendered queue and case pages against the JSON
API routes for the same data, in the same run, through uvicorn on loopback (bench/api_server.py,
which mounts the console as `lifeline serve` does). The load generator (bench/api_load.py) signs in
with the agent's session cookie for the pages and the agent's key for the API. Runs on the sweep
benchmark's database (N cases; built if missing). Each page and its JSON route are measured with one
client (one request at a time: what a page costs) and with THREADS concurrent clients. Figures: p95
latency and rps of each page (baseline: the JSON route's in the same run; target p95 < 150 ms at
1,000,000 cases).

    python -m bench.console_pages [--quick] [--cases N] [--seconds S] [--backends sqlite]
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from bench.api import load, sample_ids
from bench.common import Figure, backends, emit, note, parser
from bench.server import Server, running_server
from bench.sweep import FULL, QUICK, dataset

THREADS = 4
TARGET_P95_MS = 150.0


def session_cookie(server: Server) -> str:
    """The agent's console session, signed in through the login form as a browser would."""
    with httpx.Client(base_url=server.base, timeout=30) as client:
        form = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None, "no CSRF field on the sign-in form"
        client.post("/console/login", data={"key": server.agent_key, "csrf": token.group(1)})
        cookie = client.cookies.get("lifeline_session")
    assert cookie, "signing in gave no session cookie"
    return f"lifeline_session={cookie}"


def bench_backend(url: str, seconds: float) -> None:
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    ids = sample_ids(url)
    with running_server(url) as server:
        page_headers = {"Cookie": session_cookie(server)}
        api_headers = {"Authorization": f"Bearer {server.agent_key}"}
        specs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
            "queue_page": (
                {"url": f"{server.base}/console/queue?queue=creator-support"},
                {"url": f"{server.base}/v1/cases?queue=creator-support"},
            ),
            "case_page": (
                {"urls": [f"{server.base}/console/cases/{i}" for i in ids]},
                {"urls": [f"{server.base}/v1/cases/{i}" for i in ids]},
            ),
        }
        for name, (page_spec, api_spec) in specs.items():
            for clients, suffix in ((1, "_sequential"), (THREADS, "")):
                common = {"method": "GET", "seconds": seconds, "threads": clients}
                rendered = load({**page_spec, **common, "headers": page_headers})
                json_route = load({**api_spec, **common, "headers": api_headers})
                note(
                    f"{backend} {name}, {clients} client(s): p95 {rendered['p95_ms']:.1f} ms "
                    f"(JSON {json_route['p95_ms']:.1f} ms, target < {TARGET_P95_MS:.0f}), p50 "
                    f"{rendered['p50_ms']:.1f} ms (JSON {json_route['p50_ms']:.1f} ms), "
                    f"{rendered['rps']:.0f} rps, {int(rendered['errors'])} errors"
                )
                metric = f"{name}{suffix}"
                emit(
                    Figure(
                        "console", f"{metric}_p95_{backend}", rendered["p95_ms"], "ms", json_route["p95_ms"]
                    )
                )
                emit(
                    Figure("console", f"{metric}_rps_{backend}", rendered["rps"], "req/s", json_route["rps"])
                )
                emit(Figure("console", f"{metric}_errors_{backend}", rendered["errors"], "requests"))


def main() -> None:
    p = parser(__doc__ or "")
    p.set_defaults(backends="sqlite")
    p.add_argument("--cases", type=int, help="the database's size (default 1,000,000; --quick 20,000)")
    p.add_argument("--seconds", type=float, help="per measurement (default 10; --quick 1)")
    args = p.parse_args()
    size = args.cases or (QUICK if args.quick else FULL)
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    for backend in backends(args):
        bench_backend(dataset(backend, size, args.postgres), seconds)


if __name__ == "__main__":
    main()
