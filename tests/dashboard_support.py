"""An app with only the dashboard, and documents to seed the monitor's collections.

The tests write ``monitor_status``, ``monitor_history``, ``monitor_events``,
``monitor_health`` and ``runs`` directly, as the monitor and the connectors
would, through the models of ``monitor.model``.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from hub.repository import Repository
from monitor import model
from monitor.dashboard import create_dashboard_router
from monitor.model import (
    EntityStatus,
    HistoryPoint,
    MonitorEvent,
    MonitorHealth,
    StoreStatus,
    StoreStatusValue,
)

ENTITIES = ("items", "prices")
HISTORY_POINTS = 60
HISTORY_STEP = timedelta(minutes=1)


def dashboard_app(repository: Repository) -> FastAPI:
    """Return an app that serves only the dashboard's routes."""
    app = FastAPI(title="retail-hub dashboard (test)")
    app.include_router(create_dashboard_router(repository))
    return app


def store_status(
    store_id: str,
    status: StoreStatusValue,
    groups: list[str],
    now: datetime,
    lag_revisions: int = 0,
) -> dict[str, Any]:
    """Return a ``monitor_status`` document of one store."""
    entities = {
        entity: EntityStatus(
            queue_depth=lag_revisions // 10,
            consumers=0 if status == "SILENT" else 1,
            applied_revision=5000 - lag_revisions,
            hub_revision=5000,
            lag_revisions=lag_revisions,
            lag_seconds=lag_revisions * 1.5,
            publish_rate=2.0,
            deliver_rate=0.0 if status == "SILENT" else 2.0,
        )
        for entity in ENTITIES
    }
    document = StoreStatus(
        store_id=store_id,
        name=f"Store {store_id}",
        groups=groups,
        status=status,
        since=now - timedelta(minutes=30),
        last_contact_at=now - timedelta(minutes=40 if status == "SILENT" else 1),
        entities=entities,
        updated_at=now,
    )
    return document.model_dump(by_alias=True)


def history(store_id: str, now: datetime) -> list[dict[str, Any]]:
    """Return an hour of ``monitor_history``: deliveries stop, then lag grows."""
    points = []
    # Each entity gets its own numbers, so that the chart's lines differ.
    for scale, entity in enumerate(ENTITIES, start=1):
        for step in range(HISTORY_POINTS):
            stopped = step >= HISTORY_POINTS // 2
            lag = 20 * scale * (step - HISTORY_POINTS // 2) if stopped else 0
            point = HistoryPoint(
                store_id=store_id,
                entity=entity,
                at=now - HISTORY_STEP * (HISTORY_POINTS - step),
                delivered=0 if stopped else (40 + (step * 7) % 25) // scale,
                lag_revisions=lag,
                lag_seconds=lag * 1.5,
                queue_depth=lag // 10,
            )
            points.append(point.model_dump())
    return points


def event(store_id: str | None, at: datetime, message: str) -> dict[str, Any]:
    """Return a ``monitor_events`` document of a status change."""
    return MonitorEvent(
        store_id=store_id, at=at, kind="status", message=message
    ).model_dump()


def health(
    now: datetime, broker_ok: bool = True, repository_ok: bool = True, message: str = ""
) -> dict[str, Any]:
    """Return the ``monitor_health`` document."""
    report = MonitorHealth(
        broker_ok=broker_ok,
        repository_ok=repository_ok,
        checked_at=now,
        message=message,
    )
    return report.model_dump(by_alias=True)


def run(run_id: str, entity: str, started_at: datetime, status: str) -> dict[str, Any]:
    """Return a ``runs`` document like the one a connector run records."""
    return {
        "_id": run_id,
        "entity": entity,
        "status": status,
        "started_at": started_at,
        "finished_at": started_at + timedelta(seconds=12),
        "records_read": 5000,
        "written": 70,
        "deleted": 5,
        "quarantined": 1,
        "published": 75,
        "duration_seconds": 12.0,
        "error": "ERP timed out" if status == "failed" else None,
    }


async def seed_fleet(
    repository: Repository,
    count: int,
    silent: str,
    lagging: set[str],
) -> datetime:
    """Seed ``count`` stores (``s0000``...), one SILENT, some LAGGING, others OK.

    Stores with an even number are in group ``msk``, the others in ``spb``.
    The SILENT store gets an hour of history and two events. Returns the
    time the documents were written at.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    documents = []
    for number in range(count):
        store_id = f"s{number:04}"
        status: StoreStatusValue = "OK"
        lag = 0
        if store_id == silent:
            status = "SILENT"
        elif store_id in lagging:
            status, lag = "LAGGING", 1500
        groups = ["msk"] if number % 2 == 0 else ["spb"]
        documents.append(store_status(store_id, status, groups, now, lag))
    db = repository.db
    await db[model.STATUS].insert_many(documents)
    await db[model.HISTORY].insert_many(history(silent, now))
    await db[model.EVENTS].insert_many(
        [
            event(silent, now - timedelta(minutes=31), "store is LAGGING"),
            event(silent, now - timedelta(minutes=30), "store is SILENT"),
            event(None, now, "monitor started"),
        ]
    )
    await db[model.HEALTH].insert_one(health(now))
    return now
