"""Settings of the monitor, read from ``RETAIL_HUB_*`` environment variables."""

from pydantic import Field

from hub.settings import Settings

__all__ = ["MonitorSettings"]


class MonitorSettings(Settings):
    """The hub's settings plus the monitor's intervals, thresholds and alerting.

    Store groups may override the three thresholds (see ``monitor.thresholds``).
    """

    monitor_interval_seconds: float = Field(
        15.0, gt=0, description="Seconds between two checks of every store."
    )
    monitor_history_days: float = Field(
        7.0, gt=0, description="Days of monitor_history and monitor_events to keep."
    )
    monitor_host: str = Field(
        "127.0.0.1", description="Address the monitor's HTTP server binds to."
    )
    monitor_port: int = Field(
        8090, ge=0, le=65535, description="Port of the monitor's HTTP server."
    )
    monitor_silent_after_seconds: float = Field(
        300.0,
        gt=0,
        description="A store with no consumer and no pull or heartbeat for this"
        " long is SILENT.",
    )
    monitor_lag_revisions: int = Field(
        1000, ge=0, description="A store more revisions behind than this is LAGGING."
    )
    monitor_lag_seconds: float = Field(
        900.0, gt=0, description="A store behind for longer than this is LAGGING."
    )
    monitor_storm_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="When more than this share of stores turn SILENT in one"
        " check, one ManyStoresSilent alert replaces the per-store alerts.",
    )
    monitor_storm_min_stores: int = Field(
        3,
        ge=1,
        description="ManyStoresSilent needs at least this many stores turning"
        " SILENT in one check, so one store of a small fleet is not a storm.",
    )
    alert_webhook_url: str | None = Field(
        None,
        description="Alertmanager base URL; alerts are POSTed to"
        " <url>/api/v2/alerts. None: alerts are only logged.",
    )
    alert_repeat_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds between two sends of an alert that is still active."
        " Keep it below Alertmanager's resolve_timeout (5 min by default).",
    )
