"""The service's Prometheus metrics: defined once here, rendered by `GET /metrics`.

Counters and histograms are updated where things happen (a request, an access-log commit, an
import); the read models' positions and the change outbox are read from the database when
Prometheus scrapes, so any API process reports the same figures. With several uvicorn worker
processes, PROMETHEUS_MULTIPROC_DIR (set by `credit serve --workers N`) makes every process
write its samples to files there, and a scrape adds them up (docs/operations.md, "Metrics").
No label carries a path, an id or a code: routes are their templates."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"

# A `_created` series per counter and histogram doubles every scrape for a figure Prometheus
# does not use.
disable_created_metrics()

REQUESTS = Counter(
    "credit_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "credit_http_request_duration_seconds",
    "Time from a request's arrival to its answer's start, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 8, 15, 30, 60),
)
ACCESS_LOG_BATCH = Histogram(
    "credit_access_log_batch_entries",
    "Access-log entries committed together in one group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
IMPORT_ROWS = Counter(
    "credit_import_rows",
    "Rows of imported 双公示 files, by outcome (accepted, already_present, rejected)",
    ["outcome"],
)
# livesum: across processes, the connections held by the processes alive now.
POOL_IN_USE = Gauge(
    "credit_db_pool_connections_in_use",
    "Database connections checked out of this service's SQLAlchemy pools, by pool",
    ["pool"],
    multiprocess_mode="livesum",
)


def count_pool_use(engine: Engine, pool: str) -> None:
    """Follow one engine's pool: a connection checked out counts until it is checked in."""
    gauge = POOL_IN_USE.labels(pool)
    event.listen(engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine, "checkin", lambda *_: gauge.dec())


def count_import(accepted: int, already_present: int, rejected: int) -> None:
    IMPORT_ROWS.labels("accepted").inc(accepted)
    IMPORT_ROWS.labels("already_present").inc(already_present)
    IMPORT_ROWS.labels("rejected").inc(rejected)


class ReadModelCollector(Collector):
    """Each projector's position and lag behind the log's head, and the change outbox's newest
    position, read when scraped. `read` returns (log head, {projector: position}, newest change
    position or None); it must not raise for an unavailable database, it is not called then."""

    def __init__(self, read: Callable[[], tuple[int, dict[str, int], int | None]]):
        self.read = read

    def collect(self) -> Iterable[Metric]:
        head, positions, newest_change = self.read()
        yield GaugeMetricFamily("credit_log_head_position", "The event log's last position", head)
        position = GaugeMetricFamily(
            "credit_projection_position",
            "The last log position a projector applied",
            None,
            ["projector"],
        )
        lag = GaugeMetricFamily(
            "credit_projection_lag_events",
            "Events in the log a projector has not applied yet",
            None,
            ["projector"],
        )
        for name, at in sorted(positions.items()):
            position.add_metric([name], at)
            lag.add_metric([name], head - at)
        yield position
        yield lag
        yield GaugeMetricFamily(
            "credit_outbox_last_change_position",
            "The log position of the newest change in the change outbox (0: none yet)",
            newest_change or 0,
        )


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIRECTORY) or None


def process_stopping() -> None:
    """A worker process that stops drops its live gauges (the pools it held) from the sum."""
    if multiprocess_directory():
        multiprocess.mark_process_dead(os.getpid())


def render(collectors: Iterable[Any] = ()) -> tuple[bytes, str]:
    """The text exposition of every metric of this process, or of every process when
    PROMETHEUS_MULTIPROC_DIR is set, plus `collectors` read now."""
    if multiprocess_directory():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    extra = CollectorRegistry()
    for collector in collectors:
        extra.register(collector)
    # The text format is a sequence of metric families: two registries' outputs concatenate.
    return generate_latest(registry) + generate_latest(extra), CONTENT_TYPE_LATEST
