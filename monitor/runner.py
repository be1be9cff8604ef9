"""The monitor: check every store on an interval, write, alert and keep metrics.

A check reads RabbitMQ and the repository, evaluates each store, updates the
alerts and writes its collections. When the repository is down the monitor
keeps its last statuses in memory, alerts RepositoryDown, keeps the events
it could not write (up to ``_MAX_PENDING_EVENTS``) and tries again at the
next check.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from hub.errors import RepositoryUnavailableError
from hub.repository import Repository
from monitor.alerts import Alert, Alerter, AlertSender
from monitor.evaluate import Evaluation, RevisionClock, evaluate
from monitor.metrics import MetricsView
from monitor.model import MonitorEvent, MonitorHealth, StoreStatus
from monitor.persist import MonitorStore
from monitor.rules import (
    RUN_ALERTS,
    STORE_ALERTS,
    run_alerts,
    store_alerts,
    storm_alerts,
)
from monitor.scopes import ScopeRevisions
from monitor.settings import MonitorSettings
from monitor.sources import (
    BrokerUnavailableError,
    RepositorySnapshot,
    read_queue_stats,
    read_repository,
)
from monitor.thresholds import Thresholds

__all__ = ["Monitor"]

logger = logging.getLogger(__name__)

_MAX_PENDING_EVENTS = 10_000


class Monitor:
    """Checks of every registered store, and the state kept between them."""

    def __init__(self, settings: MonitorSettings, repository: Repository) -> None:
        self.settings = settings
        self.repository = repository
        self.store = MonitorStore(repository, settings.monitor_history_days)
        self.clock = RevisionClock()
        self.scope_revisions = ScopeRevisions()
        self.statuses: dict[str, StoreStatus] = {}
        self.view = MetricsView()
        generator = f"http://{settings.monitor_host}:{settings.monitor_port}/"
        self.alerter = Alerter(
            AlertSender(settings.alert_webhook_url, generator),
            settings.alert_repeat_seconds,
        )
        self.health: MonitorHealth | None = None
        self.checks = 0
        self._loaded = False
        self._storm_silent = False
        self._pending_events: list[MonitorEvent] = []

    async def check_once(self) -> MonitorHealth:
        """Run one check of every store and return the monitor's health."""
        now = datetime.now(UTC)
        broker_error = repository_error = None
        try:
            queues = await read_queue_stats(self.settings)
        except BrokerUnavailableError as exc:
            queues, broker_error = None, str(exc)
        snapshot: RepositorySnapshot | None = None
        try:
            if not self._loaded:
                self.statuses = await self.store.load_statuses()
                self._loaded = True
            read = await read_repository(self.repository)
            await self.scope_revisions.read(self.repository, read.committed)
            snapshot = read
        except RepositoryUnavailableError as exc:
            repository_error = str(exc)

        evaluation = Evaluation(statuses=self.statuses)
        if snapshot is not None:
            self._observe_revisions(snapshot, now)
            defaults = Thresholds.defaults(self.settings)
            evaluation = evaluate(
                snapshot,
                queues,
                self.statuses,
                self.clock,
                defaults,
                now,
                self.scope_revisions,
            )
            self.statuses = evaluation.statuses
            self._update_storm(evaluation, broker_down=broker_error is not None)
            for event in evaluation.events:
                logger.info("%s", event.message)

        events = evaluation.events + await self._alert(
            snapshot, broker_error, repository_error, now
        )
        problems = [error for error in (broker_error, repository_error) if error]
        self.health = MonitorHealth(
            broker_ok=broker_error is None,
            repository_ok=repository_error is None,
            checked_at=now,
            message="; ".join(problems) or "ok",
        )
        self.view.statuses = self.statuses
        self.view.health = self.health
        if snapshot is not None:
            self.view.runs = snapshot.runs
            await self._write(evaluation, events, now)
        else:
            self._hold_events(events)
        self.checks += 1
        return self.health

    def _observe_revisions(self, snapshot: RepositorySnapshot, now: datetime) -> None:
        for run in snapshot.runs:
            revision, finished = run.get("committed_revision"), run.get("finished_at")
            if revision and finished is not None and "entity" in run:
                self.clock.observe(run["entity"], int(revision), finished)
        for entity, revision in snapshot.committed.items():
            if revision:
                self.clock.observe(entity, revision, now)

    def _update_storm(self, evaluation: Evaluation, *, broker_down: bool) -> None:
        """Start or end a ManyStoresSilent storm from this check's statuses.

        While the broker is down BrokerDown already explains silent stores.
        """
        if broker_down:
            self._storm_silent = False
            return
        stores = [s for s in evaluation.statuses.values() if s.status != "REMOVED"]
        silent = sum(1 for s in stores if s.status == "SILENT")
        share = self.settings.monitor_storm_share * len(stores)
        minimum = self.settings.monitor_storm_min_stores
        turned = len(evaluation.turned_silent)
        if not self._storm_silent:
            self._storm_silent = turned >= minimum and turned > share
        else:
            self._storm_silent = silent >= minimum and silent > share

    async def _alert(
        self,
        snapshot: RepositorySnapshot | None,
        broker_error: str | None,
        repository_error: str | None,
        now: datetime,
    ) -> list[MonitorEvent]:
        stores = sum(1 for s in self.statuses.values() if s.status != "REMOVED")
        silent = sum(1 for s in self.statuses.values() if s.status == "SILENT")
        storm = bool(broker_error or repository_error or self._storm_silent)
        wanted: list[Alert] = storm_alerts(
            broker_error,
            repository_error,
            silent if self._storm_silent else 0,
            stores,
        )
        hold: set[str] = set()
        if storm:
            hold |= STORE_ALERTS
        else:
            wanted += store_alerts(self.statuses)
        if snapshot is None:
            hold |= RUN_ALERTS
        else:
            wanted += run_alerts(snapshot.runs)
        return await self.alerter.update(wanted, now, hold=frozenset(hold))

    async def _write(
        self, evaluation: Evaluation, events: list[MonitorEvent], now: datetime
    ) -> None:
        assert self.health is not None
        pending = self._pending_events + events
        try:
            await self.store.write_check(
                self.statuses, evaluation.history, pending, self.health
            )
            self._pending_events = []
            for store_id in await self.store.prune(now):
                self.statuses.pop(store_id, None)
            self.clock.prune(now - self.store.retention)
        except RepositoryUnavailableError as exc:
            logger.warning("writing the check failed, retrying at the next: %s", exc)
            self._pending_events = pending
            self._hold_events([])

    def _hold_events(self, events: list[MonitorEvent]) -> None:
        self._pending_events = (self._pending_events + events)[-_MAX_PENDING_EVENTS:]

    async def run(self, stop: asyncio.Event) -> None:
        """Check every ``monitor_interval_seconds`` until ``stop`` is set."""
        interval = self.settings.monitor_interval_seconds
        logger.info("monitor started: a check every %.1f s", interval)
        while not stop.is_set():
            try:
                await self.check_once()
            except Exception:
                # A bug in one check must not end the monitoring.
                logger.exception("check failed; the next starts in %.1f s", interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
        logger.info("monitor stopped after %d checks", self.checks)
