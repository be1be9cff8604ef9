"""Documents the monitor writes, as pydantic models for the monitor and the dashboard.

Collections and their documents:

- ``monitor_status``: one ``StoreStatus`` per store, ``_id`` is the store id;
- ``monitor_history``: one ``HistoryPoint`` per check, store and entity;
- ``monitor_events``: ``MonitorEvent`` records of status changes and alerts;
- ``monitor_health``: one ``MonitorHealth`` with ``_id`` ``"monitor"``.

Times are timezone-aware UTC datetimes. A number the monitor could not read
(the broker was down, or the store never reported) is None.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EVENTS",
    "HEALTH",
    "HEALTH_ID",
    "HISTORY",
    "STATUS",
    "STATUSES",
    "EntityStatus",
    "EventKind",
    "HistoryPoint",
    "MonitorEvent",
    "MonitorHealth",
    "StoreStatus",
    "StoreStatusValue",
]

STATUS = "monitor_status"
HISTORY = "monitor_history"
EVENTS = "monitor_events"
HEALTH = "monitor_health"
HEALTH_ID = "monitor"

StoreStatusValue = Literal["OK", "LAGGING", "SILENT", "NEVER_CONNECTED", "REMOVED"]
STATUSES: tuple[StoreStatusValue, ...] = (
    "OK",
    "LAGGING",
    "SILENT",
    "NEVER_CONNECTED",
    "REMOVED",
)

EventKind = Literal["status", "alert_fired", "alert_resolved"]


class EntityStatus(BaseModel):
    """Delivery of one entity to one store at the last check."""

    queue_depth: int | None = None
    consumers: int | None = None
    applied_revision: int = 0
    hub_revision: int = 0
    lag_revisions: int = 0
    lag_seconds: float = 0.0
    publish_rate: float | None = Field(None, description="Messages per second.")
    deliver_rate: float | None = Field(None, description="Messages per second.")


class StoreStatus(BaseModel):
    """The monitor's view of one store, kept in ``monitor_status``."""

    model_config = ConfigDict(populate_by_name=True)

    store_id: str = Field(alias="_id")
    name: str
    groups: list[str] = Field(default_factory=list)
    transport: str = "amqp"
    status: StoreStatusValue
    since: datetime = Field(description="When the store entered ``status``.")
    last_contact_at: datetime | None = Field(
        None, description="Last heartbeat, pull or consumer seen; None if never."
    )
    open: bool = Field(True, description="Within the store's opening hours.")
    entities: dict[str, EntityStatus] = Field(default_factory=dict)
    updated_at: datetime


class HistoryPoint(BaseModel):
    """One entity of one store at one check, kept in ``monitor_history``."""

    store_id: str
    entity: str
    at: datetime
    delivered: int = Field(
        description="Revisions the store applied since the previous check."
    )
    lag_revisions: int
    lag_seconds: float
    queue_depth: int | None = None


class MonitorEvent(BaseModel):
    """A status change or an alert, kept in ``monitor_events``."""

    store_id: str | None = None
    at: datetime
    kind: EventKind
    message: str


class MonitorHealth(BaseModel):
    """Whether the monitor's last check reached the broker and the repository."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(HEALTH_ID, alias="_id")
    broker_ok: bool
    repository_ok: bool
    checked_at: datetime
    message: str = ""
