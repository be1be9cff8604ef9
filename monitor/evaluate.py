"""Turn what one check read into each store's status, history points and events.

Nothing here does I/O, so the rules can be tested without servers. A store's
status is the first that applies:

1. REMOVED: the previous check saw the store, the registry no longer has it;
2. NEVER_CONNECTED: no heartbeat, pull, consumer or applied revision ever;
3. SILENT: open, no consumer on any of its queues, and no pull or heartbeat
   within its ``silent_after_seconds``;
4. LAGGING: open, and some entity is more than ``lag_revisions`` revisions
   or ``lag_seconds`` seconds behind the hub, counting only the revisions
   of the store's scopes (see ``monitor.scopes``);
5. OK.

A store outside its opening hours is never SILENT or LAGGING, because its
agent may be switched off for the night.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import ENTITIES, queue_name, store_scopes
from monitor.model import EntityStatus, HistoryPoint, MonitorEvent, StoreStatus
from monitor.scopes import ScopeRevisions
from monitor.sources import QueueStats, RepositorySnapshot
from monitor.thresholds import Thresholds, is_open, store_thresholds

__all__ = ["Evaluation", "RevisionClock", "evaluate"]


class RevisionClock:
    """When each committed revision of each entity was first seen.

    Seeded from the ``finished_at`` of connector runs and completed by the
    committed revision the monitor reads at every check. A store's lag in
    seconds is the time since the first revision above its applied one.
    """

    def __init__(self) -> None:
        self._reached: dict[str, dict[int, datetime]] = {}

    def observe(self, entity: str, revision: int, at: datetime) -> None:
        """Record that ``entity`` had reached ``revision`` by ``at``."""
        points = self._reached.setdefault(entity, {})
        known = points.get(revision)
        if known is None or at < known:
            points[revision] = at

    def behind_since(self, entity: str, applied: int, now: datetime) -> datetime:
        """Return when ``entity`` first passed ``applied``; ``now`` if not seen yet.

        NOTE: revisions committed before the monitor started and outside any
        recorded run count from the monitor's first check, so the lag in
        seconds is too small until those are applied.
        """
        points = self._reached.get(entity, {})
        times = [at for revision, at in points.items() if revision > applied]
        return min(times, default=now)

    def prune(self, before: datetime) -> None:
        """Forget points older than ``before``, keeping the highest of each entity."""
        for entity, points in self._reached.items():
            newest = max(points, default=None)
            self._reached[entity] = {
                revision: at
                for revision, at in points.items()
                if at >= before or revision == newest
            }


@dataclass
class Evaluation:
    """The outcome of one check."""

    statuses: dict[str, StoreStatus]
    history: list[HistoryPoint] = field(default_factory=list)
    events: list[MonitorEvent] = field(default_factory=list)
    turned_silent: list[str] = field(default_factory=list)


def _applied(
    store_id: str, state: dict[str, Any], snapshot: RepositorySnapshot
) -> dict[str, int]:
    reported = state.get("heartbeat", {}).get("applied", {}) or {}
    return {
        entity: max(
            int(reported.get(entity, 0)), snapshot.cursors.get((store_id, entity), 0)
        )
        for entity in ENTITIES
    }


def _entities(
    store_id: str,
    scopes: list[str],
    applied: dict[str, int],
    snapshot: RepositorySnapshot,
    queues: dict[str, QueueStats] | None,
    clock: RevisionClock,
    scope_revisions: ScopeRevisions,
    now: datetime,
) -> dict[str, EntityStatus]:
    entities: dict[str, EntityStatus] = {}
    for entity in ENTITIES:
        hub_revision = snapshot.committed.get(entity, 0)
        # Only the revisions of the store's own scopes count, and the store
        # is behind since the first of them above its applied one.
        scoped = scope_revisions.lag(entity, scopes, applied[entity])
        lag = scoped.revisions
        behind = now
        if scoped.first is not None:
            behind = clock.behind_since(entity, scoped.first - 1, now)
        stats = None if queues is None else queues.get(queue_name(store_id, entity))
        entities[entity] = EntityStatus(
            queue_depth=None if stats is None else stats.depth,
            consumers=None if stats is None else stats.consumers,
            applied_revision=applied[entity],
            hub_revision=hub_revision,
            lag_revisions=lag,
            lag_seconds=round((now - behind).total_seconds(), 3),
            publish_rate=None if stats is None else stats.publish_rate,
            deliver_rate=None if stats is None else stats.deliver_rate,
        )
    return entities


def _status(
    entities: dict[str, EntityStatus],
    last_contact: datetime | None,
    consumed: bool,
    store_open: bool,
    thresholds: Thresholds,
    now: datetime,
) -> str:
    if last_contact is None and not any(e.applied_revision for e in entities.values()):
        return "NEVER_CONNECTED"
    if not store_open:
        return "OK"
    silent_for = timedelta(seconds=thresholds.silent_after_seconds)
    if not consumed and (last_contact is None or now - last_contact > silent_for):
        return "SILENT"
    for entity in entities.values():
        if entity.lag_revisions > thresholds.lag_revisions:
            return "LAGGING"
        if entity.lag_revisions and entity.lag_seconds > thresholds.lag_seconds:
            return "LAGGING"
    return "OK"


def evaluate(
    snapshot: RepositorySnapshot,
    queues: dict[str, QueueStats] | None,
    previous: dict[str, StoreStatus],
    clock: RevisionClock,
    defaults: Thresholds,
    now: datetime,
    scope_revisions: ScopeRevisions,
) -> Evaluation:
    """Return every store's status, history points and status-change events.

    ``queues`` is None when the broker could not be read: consumers and
    queue depths are then unknown, and only pulls and heartbeats count as
    contact. ``scope_revisions`` has the committed revisions of each scope
    (see ``monitor.scopes``).
    """
    result = Evaluation(statuses={})
    for store_id, row in sorted(snapshot.stores.items()):
        state = snapshot.states.get(store_id, {})
        applied = _applied(store_id, state, snapshot)
        groups = list(row.get("groups", []))
        entities = _entities(
            store_id,
            store_scopes(store_id, groups),
            applied,
            snapshot,
            queues,
            clock,
            scope_revisions,
            now,
        )
        consumed = any((e.consumers or 0) > 0 for e in entities.values())
        contacts = [state.get("heartbeat", {}).get("at"), state.get("last_pull_at")]
        if consumed:
            contacts.append(now)
        last_contact = max((c for c in contacts if c is not None), default=None)
        thresholds = store_thresholds(defaults, groups, snapshot.group_thresholds)
        store_open = is_open(row, now)
        status = _status(entities, last_contact, consumed, store_open, thresholds, now)

        before = previous.get(store_id)
        since = before.since if before is not None and before.status == status else now
        result.statuses[store_id] = StoreStatus.model_validate(
            {
                "_id": store_id,
                "name": row.get("name", store_id),
                "groups": groups,
                "transport": row.get("transport", "amqp"),
                "status": status,
                "since": since,
                "last_contact_at": last_contact,
                "open": store_open,
                "entities": entities,
                "updated_at": now,
            }
        )
        if before is None or before.status != status:
            was = "new" if before is None else before.status
            result.events.append(
                MonitorEvent(
                    store_id=store_id,
                    at=now,
                    kind="status",
                    message=f"store {store_id}: {was} -> {status}",
                )
            )
            if status == "SILENT":
                result.turned_silent.append(store_id)
        for entity, numbers in entities.items():
            old = before.entities.get(entity) if before is not None else None
            delivered = (
                0 if old is None else numbers.applied_revision - old.applied_revision
            )
            result.history.append(
                HistoryPoint(
                    store_id=store_id,
                    entity=entity,
                    at=now,
                    delivered=max(0, delivered),
                    lag_revisions=numbers.lag_revisions,
                    lag_seconds=numbers.lag_seconds,
                    queue_depth=numbers.queue_depth,
                )
            )

    for store_id, before in previous.items():
        if store_id in snapshot.stores:
            continue
        if before.status == "REMOVED":
            result.statuses[store_id] = before
            continue
        removed = before.model_copy(
            update={"status": "REMOVED", "since": now, "updated_at": now}
        )
        result.statuses[store_id] = removed
        result.events.append(
            MonitorEvent(
                store_id=store_id,
                at=now,
                kind="status",
                message=f"store {store_id}: {before.status} -> REMOVED",
            )
        )
    return result
