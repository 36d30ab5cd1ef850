"""Where an API route's time goes, in-process: the benchmark's three routes and the ceiling called
through the ASGI app (httpx's ASGITransport in this thread's event loop, no sockets), timed per
request (CPU time of this process, the steadier figure on a shared host; the client's share is
the same for a route and its ceiling) and, with ``--profile ROUTE``, under cProfile.

    python -m bench.api_profile [--quick] [--requests 300] [--profile list_queue] [--top 40] [--sort tottime]

Each route's floors (bench/api_floors.py) are timed the same way, and so is what the listing
computes from its rows once read (``list_queue_answer_cpu_ms``: its countdowns and its JSON) and
what an open computes whatever it stores (``post_case_answer_cpu_ms``: the engine's opening, the
case's columns, its events' hash chain).
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import pstats
import time
from typing import Any

import httpx

from bench.api import sample_ids
from bench.api_server import server_app
from bench.common import backends, parser
from bench.server import keys
from bench.sweep import FULL, QUICK, dataset
from bench.templates import attributes


def requests_of(ids: list[str]) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    from datetime import UTC, datetime

    body = {"incident_type": "account_compromised", "attributes": attributes("standard", datetime.now(UTC))}
    return {
        "get_case": ("GET", f"/v1/cases/{ids[0]}", None),
        "list_queue": ("GET", "/v1/cases?queue=creator-support", None),
        "post_case": ("POST", "/v1/cases", body),
    }


async def measure(
    url: str,
    agent: str,
    ids: list[str],
    requests: int,
    profile: str,
    top: int,
    sort: str = "cumulative",
    rounds: int = 10,
) -> dict[str, float]:
    app = server_app(url)
    headers = {"Authorization": f"Bearer {agent}"}
    result: dict[str, float] = {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.api.router.lifespan_context(app.api),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        for name, (method, path, body) in requests_of(ids).items():
            size = len((await client.request(method, path, json=body, headers=headers)).content)
            targets = {name: (path, headers), f"{name}_ceiling": (f"/bench/ceiling?bytes={size}", {})}
            targets.update(await floors(client, name, method, path, body, headers, size))
            for label, (target, extra) in targets.items():
                for _ in range(20):  # warm
                    await client.request(method, target, json=body, headers=extra)
                profiler = cProfile.Profile(time.process_time) if label == profile else None
                if profiler is not None:
                    profiler.enable()
                    for _ in range(requests):
                        await client.request(method, target, json=body, headers=extra)
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats(sort).print_stats(top)
            # Rounds of each in turn; the least CPU per request of any round is the figure (on a
            # shared host, the rounds a neighbour disturbed are slower, never faster).
            for _ in range(rounds):
                for label, (target, extra) in targets.items():
                    cpu = time.process_time()
                    for _ in range(requests // rounds):
                        response = await client.request(method, target, json=body, headers=extra)
                        assert response.status_code < 300, response.text
                    spent = (time.process_time() - cpu) / (requests // rounds) * 1000
                    result[f"{label}_cpu_ms"] = round(min(result.get(f"{label}_cpu_ms", spent), spent), 3)
            result[f"{name}_ratio"] = round(result[f"{name}_ceiling_cpu_ms"] / result[f"{name}_cpu_ms"], 3)
    return result


async def floors(
    client: httpx.AsyncClient,
    name: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    size: int,
) -> dict[str, tuple[str, dict[str, str]]]:
    """The route's floors (bench/api_floors.py), captured from one request: its statements alone;
    a read's with its rows' JSON decoded; and the latter behind the API's middleware and router (a
    read's also without the decoding)."""
    capture = {"method": method, "path": path, "headers": headers, "json": body}
    (await client.post(f"/bench/floor/{name}/capture", json=capture)).raise_for_status()
    decode = "&decode=true" if method == "GET" else ""
    targets: dict[str, tuple[str, dict[str, str]]] = {
        f"{name}_floor": (f"/bench/floor/{name}?bytes={size}", {})
    }
    if decode:
        targets[f"{name}_floor_decoded"] = (f"/bench/floor/{name}?bytes={size}{decode}", {})
        targets[f"{name}_floor_in_api_undecoded"] = (f"/bench/api-floor/{name}?bytes={size}", {})
    targets[f"{name}_floor_in_api"] = (f"/bench/api-floor/{name}?bytes={size}{decode}", {})
    return targets


def listing_answer_cpu_ms(url: str, rounds: int = 10, pages: int = 100) -> float:
    """CPU per page of what the listing computes from rows already read and decoded: the page's
    ~150 business-time countdowns (``case_briefs``) and its JSON (``CASE_BRIEFS``); the least of
    ``rounds``. No floor pays it, and no listing can skip it (its countdowns run on the clock)."""
    from datetime import UTC, datetime

    from casework.queries import case_queries
    from casework.queries.case_queries import CaseFilters
    from casework.queries.case_view import CASE_BRIEFS, case_briefs
    from models.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = case_queries.list_cases(connection, CaseFilters(queue="creator-support"), 50).items
        case_briefs(connection, rows, datetime.now(UTC))  # parses the pinned policies once
        least = float("inf")
        for _ in range(rounds):
            cpu = time.process_time()
            for _ in range(pages):
                CASE_BRIEFS.dump_json(case_briefs(connection, rows, datetime.now(UTC)))
            least = min(least, (time.process_time() - cpu) / pages * 1000)
    engine.dispose()
    return round(least, 3)


def open_answer_cpu_ms(url: str, rounds: int = 10, opens: int = 100) -> float:
    """CPU per open of what POST /v1/cases computes whatever it stores: the attributes' checks,
    the engine's opening (its clocks' business-time deadlines, stage 0's actions), the case's row
    (``new_case``) and its events sealed onto the hash chain; the least of ``rounds``. Less than
    the route computes (no body validation, no view, no JSON), and nothing of it is written."""
    from datetime import UTC, datetime

    from casework.cases import limits
    from casework.cases.lifecycle import new_case
    from casework.history.event_rows import chain_events
    from casework.history.hashchain import GENESIS_HASH
    from casework.registry import policy_registry
    from models.db import make_engine, session_scope
    from sla_engine import cases as engine_cases

    engine = make_engine(url)
    body = requests_of(["-"])["post_case"][2]
    assert body is not None
    least = float("inf")
    with session_scope(engine, write=False) as session:
        pinned = policy_registry.pin_for_new_case(session, incident_type=body["incident_type"])
        policy, calendar = policy_registry.get_policy(
            session, pinned.policy_id, pinned.version, sha256=pinned.sha256
        )
        for _ in range(rounds):
            cpu = time.process_time()
            for _ in range(opens):
                now = datetime.now(UTC)
                limits.check_attributes(body["attributes"])
                step = engine_cases.open_case(policy, calendar, body["attributes"], now, "agent:bench")
                case = new_case(policy, pinned, step.state, now)
                chain_events(case, step.events, now, GENESIS_HASH)
            least = min(least, (time.process_time() - cpu) / opens * 1000)
    engine.dispose()
    return round(least, 3)


def main() -> None:
    p = parser(__doc__ or "")
    p.set_defaults(backends="sqlite")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--profile", default="")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--sort", default="cumulative", help="pstats' order: cumulative, tottime, ...")
    args = p.parse_args()
    url = dataset(backends(args)[0], QUICK if args.quick else FULL, args.postgres)
    agent, _auditor = keys(url)
    ids = sample_ids(url, 50)
    result = asyncio.run(measure(url, agent, ids, args.requests, args.profile, args.top, args.sort))
    result["list_queue_answer_cpu_ms"] = listing_answer_cpu_ms(url)
    result["post_case_answer_cpu_ms"] = open_answer_cpu_ms(url)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
