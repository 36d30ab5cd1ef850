"""Benchmark 4, `reports`: latency of the auditor's reads at N cases and about N/10 breaches (the
sweep benchmark's database): /v1/breaches filtered to one month, one incident type and one clock
(first page), and /v1/reports/compliance for one month when the server has that route, from the
roll-ups (the default) and scanned (``?exact=true``). Requests
one at a time from a separate process (bench/api_load.py with one thread). Figures: p50 and p95
(baseline: the 100 ms target).

    python -m bench.reports [--quick] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import httpx

from bench.api import load
from bench.common import Figure, backend_of, backends, emit, note, parser
from bench.server import running_server
from bench.sweep import FULL, QUICK, dataset

MONTH = "since=2026-03-01T00:00:00Z&until=2026-04-01T00:00:00Z"
ROUTES = {
    "breaches": f"/v1/breaches?{MONTH}&incident_type=account_compromised&clock=first_response",
    # The compliance route names its period from/to (since/until would be ignored: the last 30 days).
    # Its default answer merges the roll-ups kept on write; ?exact=true scans (the second figure).
    "compliance": "/v1/reports/compliance?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z",
    "compliance_exact": "/v1/reports/compliance?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&exact=true",
}


def bench_backend(url: str, seconds: float) -> None:
    backend = backend_of(url)
    with running_server(url) as server:
        headers = {"Authorization": f"Bearer {server.auditor_key}"}
        paths = set(httpx.get(f"{server.base}/openapi.json").json().get("paths", {}))
        for name, route in ROUTES.items():
            if route.split("?")[0] not in paths:
                note(f"{backend}: {route.split('?')[0]} is not served yet: not measured")
                continue
            first = httpx.get(server.base + route, headers=headers, timeout=60)
            if first.status_code != 200:
                note(f"{backend}: {name} answered {first.status_code}: {first.text[:200]}")
                continue
            result = load(
                {
                    "method": "GET",
                    "url": server.base + route,
                    "headers": headers,
                    "seconds": seconds,
                    "threads": 1,
                }
            )
            note(f"{backend} {name}: {int(result['requests'])} requests, {len(first.content)} bytes")
            emit(Figure("reports", f"{name}_p50_{backend}", result["p50_ms"], "ms", 100))
            emit(Figure("reports", f"{name}_p95_{backend}", result["p95_ms"], "ms", 100))
        emit(Figure("memory", f"api_peak_rss_reports_{backend}", server.peak_rss_mb(), "MiB", 300))


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    size = QUICK if args.quick else FULL
    for backend in backends(args):
        bench_backend(dataset(backend, size, args.postgres), 1.0 if args.quick else 10.0)


if __name__ == "__main__":
    main()
