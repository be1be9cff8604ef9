"""Data of the dashboard's pages, read from the collections the monitor writes.

The monitor keeps one ``monitor_status`` document per store, points of
``monitor_history`` per store and entity, ``monitor_events`` and its own
``monitor_health``; the connectors keep ``runs``. The functions here read
those documents field by field into the JSON models of the dashboard's API.
A document with a malformed field is skipped with a warning, so one bad
document never breaks the page of every store.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from hub.errors import RepositoryUnavailableError
from hub.repository import Repository, translate_unavailable
from monitor import model
from monitor.model import (
    EntityStatus,
    HistoryPoint,
    MonitorEvent,
    MonitorHealth,
    StoreStatus,
    StoreStatusValue,
)

__all__ = [
    "HEALTH_STALE_SECONDS",
    "STATUS_ORDER",
    "HealthView",
    "Overview",
    "RunView",
    "StoreDetail",
    "StorePage",
    "StoreSummary",
    "TransferPoint",
    "read_health",
    "read_overview",
    "read_runs",
    "read_store_page",
]

logger = logging.getLogger(__name__)

STATUS_ORDER: tuple[StoreStatusValue, ...] = (
    "SILENT",
    "NEVER_CONNECTED",
    "LAGGING",
    "OK",
    "REMOVED",
)
"""Every store status, worst first; the grid lists stores in this order."""

HEALTH_STALE_SECONDS = 120
"""Seconds after which a health report is stale: the monitor may have stopped."""

MAX_HISTORY_POINTS = 10_000
"""History points of one store that a store page reads at most, newest kept."""

MAX_EVENTS = 50
"""Events that a store page shows, newest first."""

T = TypeVar("T")


class StoreSummary(BaseModel):
    """A store's tile on the grid; the lags are the maximum over its entities."""

    store_id: str
    name: str
    groups: list[str]
    transport: str
    status: StoreStatusValue
    since: datetime
    last_contact_at: datetime | None
    updated_at: datetime
    lag_revisions: int | None = None
    lag_seconds: float | None = None


class StoreDetail(StoreSummary):
    """A store with the state of each entity."""

    entities: dict[str, EntityStatus]


class Overview(BaseModel):
    """The grid: the stores that match the filter and their counts per status."""

    counts: dict[str, int] = Field(
        description="Stores per status among those that match the filter."
    )
    matched: int
    registered: int = Field(description="Stores in monitor_status, all filters off.")
    groups: list[str] = Field(description="Every group of any store, sorted.")
    stores: list[StoreSummary]


class TransferPoint(BaseModel):
    """One check of one entity of a store, without the store id and entity."""

    at: datetime
    delivered: int
    lag_revisions: int
    lag_seconds: float
    queue_depth: int | None = None


class StorePage(BaseModel):
    """Everything the page of one store shows."""

    store: StoreDetail
    history: dict[str, list[TransferPoint]] = Field(
        description="Points per entity, oldest first."
    )
    events: list[MonitorEvent] = Field(description="Newest first.")


class HealthView(BaseModel):
    """The monitor's health report, and ``problems``: the lines of the banner."""

    broker_ok: bool | None = None
    repository_ok: bool | None = None
    checked_at: datetime | None = None
    message: str = ""
    problems: list[str] = Field(default_factory=list)


class RunView(BaseModel):
    """One run of a connector."""

    id: str
    entity: str = ""
    status: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    records_read: int | None = None
    written: int | None = None
    deleted: int | None = None
    quarantined: int | None = None
    published: int | None = None
    duration_seconds: float | None = None
    error: str | None = None


def _detail_from_row(row: dict[str, Any]) -> StoreDetail:
    status = StoreStatus.model_validate(row)
    states = status.entities.values()
    return StoreDetail(
        **status.model_dump(exclude={"open"}),
        lag_revisions=max((state.lag_revisions for state in states), default=None),
        lag_seconds=max((state.lag_seconds for state in states), default=None),
    )


def _parse_rows(
    rows: list[dict[str, Any]], parse: Callable[[dict[str, Any]], T], what: str
) -> list[T]:
    parsed: list[T] = []
    skipped = 0
    first_error = ""
    for row in rows:
        try:
            parsed.append(parse(row))
        except (ValidationError, KeyError, TypeError) as exc:
            skipped += 1
            first_error = first_error or f"{row.get('_id')!r}: {exc}"
    if skipped:
        # One warning per request, not one per document.
        logger.warning(
            "skipped %d malformed %s documents; first: %s", skipped, what, first_error
        )
    return parsed


def _matches(store: StoreSummary, query: str, group: str, status: str) -> bool:
    if group and group not in store.groups:
        return False
    if status and store.status != status:
        return False
    needle = query.strip().casefold()
    return not needle or (
        needle in store.store_id.casefold() or needle in store.name.casefold()
    )


async def read_overview(
    repository: Repository, query: str = "", group: str = "", status: str = ""
) -> Overview:
    """Read every store's status and keep those matching all given filters.

    ``query`` matches a part of the store id or name, ignoring case; ``group``
    and ``status`` must match exactly. Empty filters match every store.
    """
    async with translate_unavailable("reading store statuses"):
        rows = await repository.db[model.STATUS].find({}).to_list(None)
    stores = _parse_rows(rows, _detail_from_row, model.STATUS)
    groups = sorted({group for store in stores for group in store.groups})
    matched = [
        StoreSummary.model_validate(store.model_dump(exclude={"entities"}))
        for store in stores
        if _matches(store, query, group, status)
    ]
    matched.sort(key=lambda store: (STATUS_ORDER.index(store.status), store.store_id))
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for store in matched:
        counts[store.status] += 1
    return Overview(
        counts=counts,
        matched=len(matched),
        registered=len(stores),
        groups=groups,
        stores=matched,
    )


def _transfer_point(row: dict[str, Any]) -> tuple[str, TransferPoint]:
    point = HistoryPoint.model_validate(row)
    fields = point.model_dump(exclude={"store_id", "entity"})
    return point.entity, TransferPoint.model_validate(fields)


async def read_store_page(
    repository: Repository, store_id: str, hours: float
) -> StorePage | None:
    """Read one store's status, its history of the last ``hours`` and its events.

    Returns None when the monitor has no status of ``store_id``, and raises
    ValueError when that status document is malformed.
    """
    db = repository.db
    async with translate_unavailable(f"reading the status of store {store_id}"):
        row = await db[model.STATUS].find_one({"_id": store_id})
    if row is None:
        return None
    try:
        store = _detail_from_row(row)
    except ValidationError as exc:
        raise ValueError(
            f"the {model.STATUS} document of store {store_id!r} is malformed: {exc}"
        ) from exc
    since = datetime.now(UTC) - timedelta(hours=hours)
    history_cursor = (
        db[model.HISTORY]
        .find({"store_id": store_id, "at": {"$gte": since}})
        .sort("at", -1)
        .limit(MAX_HISTORY_POINTS)
    )
    events_cursor = (
        db[model.EVENTS].find({"store_id": store_id}).sort("at", -1).limit(MAX_EVENTS)
    )
    async with translate_unavailable(f"reading the history of store {store_id}"):
        history_rows = await history_cursor.to_list(None)
        event_rows = await events_cursor.to_list(None)
    history: dict[str, list[TransferPoint]] = {}
    # The newest points were read first, so that the limit keeps the latest.
    points = _parse_rows(history_rows, _transfer_point, model.HISTORY)
    for entity, point in reversed(points):
        history.setdefault(entity, []).append(point)
    events = _parse_rows(event_rows, MonitorEvent.model_validate, model.EVENTS)
    return StorePage(store=store, history=history, events=events)


def _health_problems(health: MonitorHealth, now: datetime) -> list[str]:
    problems: list[str] = []
    detail = f": {health.message}" if health.message else ""
    if not health.broker_ok:
        problems.append(f"The monitor cannot reach RabbitMQ{detail}")
    if not health.repository_ok:
        problems.append(f"The monitor cannot reach the repository{detail}")
    age = (now - health.checked_at).total_seconds()
    if age > HEALTH_STALE_SECONDS:
        problems.append(
            f"The monitor last checked its health {int(age)} s ago,"
            " so the statuses shown may be out of date. Is the monitor running?"
        )
    return problems


async def read_health(repository: Repository) -> HealthView:
    """Read the monitor's health report, and list what the banner must say.

    An unreachable repository is reported in the result, not raised, so that
    the banner can show it.
    """
    try:
        async with translate_unavailable("reading the monitor's health"):
            row = await repository.db[model.HEALTH].find_one({"_id": model.HEALTH_ID})
    except RepositoryUnavailableError as exc:
        return HealthView(
            repository_ok=False,
            message=str(exc),
            problems=[f"The dashboard cannot read the repository: {exc}"],
        )
    if row is None:
        return HealthView(
            problems=["The monitor has not reported its health yet. Is it running?"]
        )
    try:
        health = MonitorHealth.model_validate(row)
    except ValidationError as exc:
        logger.warning("malformed %s document: %s", model.HEALTH, exc)
        return HealthView(problems=["The monitor's health report is malformed."])
    return HealthView(
        broker_ok=health.broker_ok,
        repository_ok=health.repository_ok,
        checked_at=health.checked_at,
        message=health.message,
        problems=_health_problems(health, datetime.now(UTC)),
    )


def _run_from_row(row: dict[str, Any]) -> RunView:
    fields = {key: value for key, value in row.items() if key != "_id"}
    return RunView.model_validate({**fields, "id": str(row["_id"])})


async def read_runs(
    repository: Repository, entity: str | None, limit: int
) -> list[RunView]:
    """Read the latest connector runs, newest first."""
    rows = await repository.recent_runs(entity, limit)
    return _parse_rows(rows, _run_from_row, "runs")
