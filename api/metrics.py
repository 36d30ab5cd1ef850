"""Prometheus metrics: request counts (counted as requests pass) and the state of the cases (read
from the database at scrape time, so every API process reports the same numbers).

Each app has its own registry, so several apps in one process (tests) never share counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.route_table import template_of
from api.worker_metrics import WorkerMetrics
from casework.queries.operations import case_totals


class CaseMetrics(Collector):
    """Open cases by stage and priority, breaches by clock or stage, escalations, sweep lag."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        open_cases = GaugeMetricFamily(
            "lifeline_open_cases",
            "Cases not yet resolved, by stage and priority",
            labels=["stage", "priority"],
        )
        breaches = CounterMetricFamily(
            "lifeline_breaches",
            "Breaches recorded, by target type (clock or stage) and name",
            labels=["target_type", "target"],
        )
        escalations = CounterMetricFamily(
            "lifeline_escalations", "Stage escalations recorded (timed and by hand)"
        )
        lag = GaugeMetricFamily(
            "lifeline_sweep_lag_seconds",
            "How far the most overdue pending deadline is behind now (0: the worker is keeping up)",
        )
        heartbeat = GaugeMetricFamily(
            "lifeline_worker_heartbeat_age_seconds", "Seconds since the freshest worker heartbeat"
        )
        totals = case_totals(self.engine)
        for stage, priority, count in totals.open_by_stage_and_priority:
            open_cases.add_metric([stage, priority], count)
        for target_type, target, count in totals.breaches_by_target:
            breaches.add_metric([target_type, target], count)
        escalations.add_metric([], totals.escalations)
        oldest_due = totals.oldest_pending_deadline
        lag.add_metric([], max((now - oldest_due).total_seconds(), 0.0) if oldest_due else 0.0)
        if totals.latest_heartbeat is not None:
            heartbeat.add_metric([], max((now - totals.latest_heartbeat).total_seconds(), 0.0))
        yield from (open_cases, breaches, escalations, lag, heartbeat)


class ApiMetrics:
    """The app's registry with its request counter and latency histogram."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lifeline_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lifeline_http_request_duration_seconds",
            "Time to answer, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(CaseMetrics(engine, clock))
        self.registry.register(WorkerMetrics(engine, clock))


def route_template(scope: Scope) -> str:
    """The template of the route for the request's path (``/v1/cases/{case_id}``), so metric labels
    stay few and each request counts under its own route; "unmatched" if no route has the path."""
    app = scope.get("app")
    template = template_of(app, scope.get("path", "")) if app is not None else None
    return template or "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
