"""Per-group thresholds and per-store opening hours.

Thresholds live in the ``monitor_groups`` collection, one document per store
group: ``{_id: group, silent_after_seconds, lag_revisions, lag_seconds}``,
each field optional. A store in several groups gets, per threshold, the
smallest value any of its groups sets, and the setting's default otherwise.

Opening hours are the store document's fields ``timezone`` (an IANA name such
as ``Europe/Moscow``), ``opens`` and ``closes`` (``HH:MM`` local time). A
store without them is always open. ``closes`` before ``opens`` means the store
closes after midnight.
"""

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.settings import MonitorSettings

__all__ = [
    "GROUPS",
    "THRESHOLD_FIELDS",
    "Thresholds",
    "is_open",
    "parse_clock",
    "store_thresholds",
    "validate_timezone",
]

GROUPS = "monitor_groups"
THRESHOLD_FIELDS = ("silent_after_seconds", "lag_revisions", "lag_seconds")


@dataclass(frozen=True)
class Thresholds:
    """When a store counts as SILENT or LAGGING."""

    silent_after_seconds: float
    lag_revisions: int
    lag_seconds: float

    @classmethod
    def defaults(cls, settings: MonitorSettings) -> "Thresholds":
        """Return the thresholds the settings give every store."""
        return cls(
            settings.monitor_silent_after_seconds,
            settings.monitor_lag_revisions,
            settings.monitor_lag_seconds,
        )


def store_thresholds(
    defaults: Thresholds, groups: list[str], group_rows: dict[str, dict[str, Any]]
) -> Thresholds:
    """Return a store's thresholds: the smallest its groups set, else the default."""
    values: dict[str, Any] = {}
    for name in THRESHOLD_FIELDS:
        overrides = [
            group_rows[group][name]
            for group in groups
            if group in group_rows and group_rows[group].get(name) is not None
        ]
        values[name] = min(overrides) if overrides else getattr(defaults, name)
    return Thresholds(
        float(values["silent_after_seconds"]),
        int(values["lag_revisions"]),
        float(values["lag_seconds"]),
    )


def parse_clock(value: str) -> time:
    """Return the time of day of ``HH:MM``; raise ValueError for anything else."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(
            f"invalid time {value!r}: expected HH:MM, 00:00-23:59"
        ) from None


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is a known IANA time zone; raise ValueError otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: expected an IANA name such as Europe/Moscow"
        ) from None
    return name


def is_open(store: dict[str, Any], now: datetime) -> bool:
    """Return whether the store is within its opening hours at ``now``.

    A store without ``timezone``, ``opens`` and ``closes``, or with invalid
    ones, counts as open, so a bad value never hides a silent store.
    """
    zone, opens, closes = store.get("timezone"), store.get("opens"), store.get("closes")
    if not (zone and opens and closes):
        return True
    try:
        local = now.astimezone(ZoneInfo(validate_timezone(zone))).time()
        start, end = parse_clock(opens), parse_clock(closes)
    except ValueError:
        return True
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end
