"""Alerts on transitions, sent to a webhook in the Alertmanager v2 API format.

Every check hands ``Alerter.update`` the set of alerts that should be active.
A new one fires, one that is gone resolves (sent again with ``endsAt`` set
to now), and one still active is sent again every ``alert_repeat_seconds``,
because Alertmanager resolves an alert on its own once ``endsAt`` passes.
Alerts are keyed by their labels, so an alert is never active twice.

A send that fails is logged and tried again at the next check. Without a
webhook URL alerts are only logged.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from monitor.model import MonitorEvent

__all__ = ["Alert", "AlertSender", "Alerter", "alert_key"]

logger = logging.getLogger(__name__)

_HTTP_TIMEOUT_SECONDS = 5.0
# Prometheus sets endsAt of a firing alert this many resend intervals ahead,
# so Alertmanager resolves it if the sender dies.
_ENDS_AT_INTERVALS = 4
_MAX_UNSENT_RESOLVES = 1000

AlertKey = tuple[tuple[str, str], ...]


@dataclass
class Alert:
    """An alert: its labels (``alertname``, ``severity``, ...) and its text."""

    labels: dict[str, str]
    summary: str
    description: str
    starts_at: datetime | None = None
    sent_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.labels["alertname"]

    @property
    def subject(self) -> str:
        """The store id, or the entity, or ``-`` for a hub-wide alert."""
        return self.labels.get("store_id") or self.labels.get("entity") or "-"


def alert_key(labels: dict[str, str]) -> AlertKey:
    """Return the identity of an alert: its sorted labels."""
    return tuple(sorted(labels.items()))


class AlertSender:
    """POSTs alerts to ``<url>/api/v2/alerts``; logs only when ``url`` is None."""

    def __init__(self, url: str | None, generator_url: str) -> None:
        self.url = None if url is None else url.rstrip("/") + "/api/v2/alerts"
        self.generator_url = generator_url

    def payload(self, alert: Alert, now: datetime, *, resolved: bool) -> dict[str, Any]:
        """Return one alert in Alertmanager's postable format."""
        ends_at = now if resolved else None
        return {
            "labels": alert.labels,
            "annotations": {
                "summary": alert.summary,
                "description": alert.description,
            },
            "startsAt": (alert.starts_at or now).isoformat(),
            "endsAt": None if ends_at is None else ends_at.isoformat(),
            "generatorURL": self.generator_url,
        }

    async def send(self, payloads: list[dict[str, Any]]) -> bool:
        """Send ``payloads`` in one request; return False if it failed."""
        if self.url is None or not payloads:
            return True
        try:
            async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_SECONDS) as http:
                response = await http.post(self.url, json=payloads)
        except httpx.HTTPError as exc:
            logger.warning(
                "sending %d alerts to %s failed (%s: %s); retrying at the next check",
                len(payloads),
                self.url,
                type(exc).__name__,
                exc,
            )
            return False
        if response.status_code >= 300:
            logger.warning(
                "sending %d alerts to %s returned %d: %s; retrying at the next check",
                len(payloads),
                self.url,
                response.status_code,
                response.text[:200],
            )
            return False
        return True


class Alerter:
    """The active alerts, and what to send when the wanted set changes."""

    def __init__(self, sender: AlertSender, repeat_seconds: float) -> None:
        self.sender = sender
        self.repeat = timedelta(seconds=repeat_seconds)
        self.active: dict[AlertKey, Alert] = {}
        self._unsent_resolves: list[dict[str, Any]] = []

    async def update(
        self, wanted: list[Alert], now: datetime, *, hold: frozenset[str] = frozenset()
    ) -> list[MonitorEvent]:
        """Fire, repeat and resolve so that ``wanted`` is active; return the events.

        Active alerts named in ``hold`` are kept as they are, neither resent
        nor resolved, and new ones with those names do not fire: that is how
        a storm alert suppresses the per-store alerts it explains.
        """
        events: list[MonitorEvent] = []
        outgoing: list[tuple[Alert, dict[str, Any]]] = []
        wanted_by_key = {alert_key(alert.labels): alert for alert in wanted}

        for key, alert in list(self.active.items()):
            if key in wanted_by_key or alert.name in hold:
                continue
            del self.active[key]
            self._unsent_resolves.append(self.sender.payload(alert, now, resolved=True))
            logger.info("alert %s resolved for %s", alert.name, alert.subject)
            events.append(_event(alert, now, "alert_resolved"))

        for key, alert in wanted_by_key.items():
            if alert.name in hold:
                continue
            current = self.active.get(key)
            if current is None:
                alert.starts_at = now
                self.active[key] = alert
                current = alert
                logger.info(
                    "alert %s fired for %s: %s",
                    alert.name,
                    alert.subject,
                    alert.summary,
                )
                events.append(_event(alert, now, "alert_fired"))
            else:
                current.summary, current.description = alert.summary, alert.description
            if current.sent_at is None or now - current.sent_at >= self.repeat:
                payload = self.sender.payload(current, now, resolved=False)
                payload["endsAt"] = (now + self.repeat * _ENDS_AT_INTERVALS).isoformat()
                outgoing.append((current, payload))

        resolves = self._unsent_resolves[-_MAX_UNSENT_RESOLVES:]
        if await self.sender.send(resolves + [payload for _, payload in outgoing]):
            self._unsent_resolves = []
            for alert, _ in outgoing:
                alert.sent_at = now
        else:
            self._unsent_resolves = resolves
        return events


def _event(alert: Alert, now: datetime, kind: str) -> MonitorEvent:
    verb = "fired" if kind == "alert_fired" else "resolved"
    return MonitorEvent.model_validate(
        {
            "store_id": alert.labels.get("store_id"),
            "at": now,
            "kind": kind,
            "message": f"{alert.name} {verb}: {alert.summary}",
        }
    )
