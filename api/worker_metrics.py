"""Prometheus metrics of the worker side, read from the database at scrape time (workers run in
other processes): notification deliveries by channel and outcome, retries, the outbox's depth and
the age of its oldest undelivered notification, and how many live workers sweep with or without
Prefect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from casework.queries.operations import outbox_totals, worker_modes
from models.kinds import NotificationStatus

#: A worker whose heartbeat is older than this is not counted as live (as /healthz).
LIVE_WITHIN = timedelta(seconds=30)
MODES = ("prefect", "degraded")


class WorkerMetrics(Collector):
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from self._outbox(now)
        workers = GaugeMetricFamily(
            "lifeline_workers",
            "Live workers by orchestrator mode: prefect (sweeps are flow runs) or degraded (without Prefect)",
            labels=["orchestrator"],
        )
        modes = worker_modes(self.engine, now - LIVE_WITHIN)
        for mode in sorted({*MODES, *modes}):
            workers.add_metric([mode], modes.get(mode, 0))
        yield workers

    def _outbox(self, now: datetime) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "lifeline_notification_deliveries",
            "Notifications finished, by channel and outcome (delivered, dead)",
            labels=["channel", "outcome"],
        )
        retries = CounterMetricFamily(
            "lifeline_notification_retries",
            "Failed delivery attempts (each retried or dead-lettered), by channel",
            labels=["channel"],
        )
        depth = GaugeMetricFamily("lifeline_outbox_depth", "Notifications waiting to be delivered")
        oldest = GaugeMetricFamily(
            "lifeline_outbox_oldest_age_seconds",
            "Age of the oldest notification not yet delivered (0: none waiting)",
        )
        totals = outbox_totals(self.engine)
        failed_attempts: dict[str, int] = {}
        waiting = 0
        for channel, status, rows, attempts in totals.by_channel_and_status:
            if status == NotificationStatus.PENDING:
                waiting += rows
            else:
                deliveries.add_metric([channel, status], rows)
            successes = rows if status == NotificationStatus.DELIVERED else 0
            failed_attempts[channel] = failed_attempts.get(channel, 0) + attempts - successes
        for channel, count in sorted(failed_attempts.items()):
            retries.add_metric([channel], count)
        depth.add_metric([], waiting)
        created = totals.oldest_pending_created_at
        oldest.add_metric([], max((now - created).total_seconds(), 0.0) if created else 0.0)
        yield from (deliveries, retries, depth, oldest)
