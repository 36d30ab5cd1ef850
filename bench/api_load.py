"""The load generator, in its own process: ``threads`` keep-alive httpx clients call one request
shape for ``seconds``; prints {"requests", "seconds", "rps", "p50_ms", "p99_ms", "errors"}.

    python -m bench.api_load SPEC_JSON

SPEC: {"method", "url" or "urls" (cycled), "headers", "json" (POST body), "seconds", "threads"}.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from typing import Any

import httpx

from bench.common import percentile


def hammer(spec: dict[str, Any]) -> dict[str, float]:
    urls = spec.get("urls") or [spec["url"]]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + float(spec["seconds"])

    def worker(offset: int) -> None:
        mine: list[float] = []
        failed = 0
        cycle = itertools.islice(itertools.cycle(urls), offset, None)
        with httpx.Client(headers=spec.get("headers") or {}, timeout=30) as client:
            while time.perf_counter() < stop_at:
                url = next(cycle)
                began = time.perf_counter()
                response = client.request(spec["method"], url, json=spec.get("json"))
                mine.append(time.perf_counter() - began)
                failed += response.status_code >= 400
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker, args=(i * 7,)) for i in range(int(spec["threads"]))]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors[0],
    }


if __name__ == "__main__":
    print(json.dumps(hammer(json.loads(sys.argv[1]))), flush=True)
