"""Prometheus metrics of the monitor, rendered from its last check.

Per store and entity (labels ``store_id``, ``entity``):
``retail_hub_store_lag_revisions``, ``retail_hub_store_lag_seconds``,
``retail_hub_store_queue_depth``, ``retail_hub_store_queue_consumers``.
Per store: ``retail_hub_store_seconds_since_contact`` (absent if never),
``retail_hub_store_open`` (1 within opening hours) and
``retail_hub_store_status`` with a ``status`` label: 1 for the store's
current status and 0 for every other value of ``monitor.model.STATUSES``.
Per entity, from the ``runs`` collection: ``retail_hub_connector_runs``
(runs by ``status``), ``retail_hub_connector_last_run`` (1 for the status of
the newest finished run), ``retail_hub_connector_documents`` (documents
``written``, ``published`` and ``quarantined`` over the runs read) and
``retail_hub_connector_last_run_duration_seconds``. Monitor health:
``retail_hub_monitor_broker_up``, ``retail_hub_monitor_repository_up`` and
``retail_hub_monitor_last_check_timestamp_seconds``.

Stores that are removed disappear from the output with the next check.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.model import STATUSES, MonitorHealth, StoreStatus

__all__ = ["MetricsView", "MonitorCollector"]

_DOCUMENT_KINDS = ("written", "published", "quarantined")


@dataclass
class MetricsView:
    """What the last check found; the collector reads it on every scrape."""

    statuses: dict[str, StoreStatus] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    health: MonitorHealth | None = None


class MonitorCollector(Collector):
    """Renders a ``MetricsView`` as Prometheus metrics."""

    def __init__(self, view: MetricsView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        """Yield every metric of the last check."""
        yield from self._store_metrics()
        yield from self._run_metrics()
        yield from self._health_metrics()

    def _store_metrics(self) -> Iterator[Metric]:
        pair = ["store_id", "entity"]
        lag = GaugeMetricFamily(
            "retail_hub_store_lag_revisions",
            "Revisions the store is behind.",
            labels=pair,
        )
        lag_seconds = GaugeMetricFamily(
            "retail_hub_store_lag_seconds",
            "Seconds since the hub committed the first revision the store lacks.",
            labels=pair,
        )
        depth = GaugeMetricFamily(
            "retail_hub_store_queue_depth",
            "Messages in the store's queue.",
            labels=pair,
        )
        consumers = GaugeMetricFamily(
            "retail_hub_store_queue_consumers",
            "Consumers of the store's queue.",
            labels=pair,
        )
        contact = GaugeMetricFamily(
            "retail_hub_store_seconds_since_contact",
            "Seconds since the store's last heartbeat, pull or seen consumer.",
            labels=["store_id"],
        )
        open_now = GaugeMetricFamily(
            "retail_hub_store_open",
            "1 when the store is within its opening hours.",
            labels=["store_id"],
        )
        status = GaugeMetricFamily(
            "retail_hub_store_status",
            "1 for the store's current status, 0 for the other values.",
            labels=["store_id", "status"],
        )
        for store_id, store in sorted(self.view.statuses.items()):
            for value in STATUSES:
                status.add_metric([store_id, value], float(store.status == value))
            if store.status == "REMOVED":
                continue
            open_now.add_metric([store_id], float(store.open))
            if store.last_contact_at is not None:
                since = (store.updated_at - store.last_contact_at).total_seconds()
                contact.add_metric([store_id], max(0.0, since))
            for entity, numbers in sorted(store.entities.items()):
                labels = [store_id, entity]
                lag.add_metric(labels, numbers.lag_revisions)
                lag_seconds.add_metric(labels, numbers.lag_seconds)
                if numbers.queue_depth is not None:
                    depth.add_metric(labels, numbers.queue_depth)
                if numbers.consumers is not None:
                    consumers.add_metric(labels, numbers.consumers)
        yield from (lag, lag_seconds, depth, consumers, contact, open_now, status)

    def _run_metrics(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "retail_hub_connector_runs",
            "Connector runs in the runs collection, by entity and status.",
            labels=["entity", "status"],
        )
        last = GaugeMetricFamily(
            "retail_hub_connector_last_run",
            "1 for the status of the entity's newest finished run.",
            labels=["entity", "status"],
        )
        documents = CounterMetricFamily(
            "retail_hub_connector_documents",
            "Documents written, published and quarantined by the runs read.",
            labels=["entity", "kind"],
        )
        duration = GaugeMetricFamily(
            "retail_hub_connector_last_run_duration_seconds",
            "Duration of the entity's newest finished run.",
            labels=["entity"],
        )
        counts: Counter[tuple[str, str]] = Counter()
        totals: Counter[tuple[str, str]] = Counter()
        newest: dict[str, dict[str, Any]] = {}
        for run in self.view.runs:
            entity, state = str(run.get("entity")), str(run.get("status"))
            counts[(entity, state)] += 1
            for kind in _DOCUMENT_KINDS:
                totals[(entity, kind)] += int(run.get(kind) or 0)
            started: datetime | None = run.get("started_at")
            known = newest.get(entity)
            finished = state != "running" and started is not None
            if finished and (known is None or started > known["started_at"]):
                newest[entity] = run
        for (entity, state), count in sorted(counts.items()):
            runs.add_metric([entity, state], count)
        for (entity, kind), total in sorted(totals.items()):
            documents.add_metric([entity, kind], total)
        for entity, run in sorted(newest.items()):
            for state in ("succeeded", "failed", "guard_stopped"):
                last.add_metric([entity, state], float(run.get("status") == state))
            duration.add_metric([entity], float(run.get("duration_seconds") or 0.0))
        yield from (runs, last, documents, duration)

    def _health_metrics(self) -> Iterator[Metric]:
        health = self.view.health
        if health is None:
            return
        for name, up, text in (
            ("broker", health.broker_ok, "1 when the last check reached RabbitMQ."),
            ("repository", health.repository_ok, "1 when it reached the repository."),
        ):
            gauge = GaugeMetricFamily(f"retail_hub_monitor_{name}_up", text)
            gauge.add_metric([], float(up))
            yield gauge
        checked = GaugeMetricFamily(
            "retail_hub_monitor_last_check_timestamp_seconds",
            "Unix time of the monitor's last check.",
        )
        checked.add_metric([], health.checked_at.timestamp())
        yield checked
