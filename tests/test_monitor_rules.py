"""Store status rules, opening hours and alert deduplication, without servers."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.alerts import Alert, Alerter, AlertSender
from monitor.evaluate import RevisionClock, evaluate
from monitor.scopes import ScopeRevisions
from monitor.sources import QueueStats, RepositorySnapshot
from monitor.thresholds import Thresholds, is_open, store_thresholds

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
DEFAULTS = Thresholds(silent_after_seconds=60, lag_revisions=10, lag_seconds=300)


def _snapshot(
    stores: dict[str, dict[str, Any]],
    states: dict[str, dict[str, Any]],
    committed: int = 100,
    groups: dict[str, dict[str, Any]] | None = None,
) -> RepositorySnapshot:
    return RepositorySnapshot(
        stores={sid: {"_id": sid, "name": sid, **row} for sid, row in stores.items()},
        states=states,
        cursors={},
        committed={"items": committed},
        runs=[],
        group_thresholds=groups or {},
    )


def _all_scope(committed: int = 100) -> ScopeRevisions:
    """Return items revisions 1 to ``committed``, all in the scope of all stores."""
    scopes = ScopeRevisions()
    scopes.record(
        [
            {"entity": "items", "scope": "all", "rev": rev}
            for rev in range(1, committed + 1)
        ]
    )
    return scopes


def _beat(seconds_ago: float, applied: int) -> dict[str, Any]:
    at = NOW - timedelta(seconds=seconds_ago)
    return {"heartbeat": {"at": at, "applied": {"items": applied}}}


def test_status_rules_table() -> None:
    clock = RevisionClock()
    clock.observe("items", 100, NOW - timedelta(seconds=30))
    snapshot = _snapshot(
        {
            "new": {},
            "quiet": {},
            "consuming": {},
            "behind": {},
            "closed": {"timezone": "UTC", "opens": "08:00", "closes": "10:00"},
            "fine": {},
        },
        {
            "quiet": _beat(120, 100),
            "consuming": _beat(3600, 100),
            "behind": _beat(1, 50),
            "closed": _beat(3600, 100),
            "fine": _beat(1, 100),
        },
    )
    queues = {"store.consuming.items": QueueStats(0, 1, None, None)}

    result = evaluate(snapshot, queues, {}, clock, DEFAULTS, NOW, _all_scope())

    statuses = {sid: status.status for sid, status in result.statuses.items()}
    assert statuses["new"] == "NEVER_CONNECTED"
    assert statuses["quiet"] == "SILENT"
    assert statuses["consuming"] == "OK"
    assert statuses["behind"] == "LAGGING"
    assert statuses["closed"] == "OK"
    assert result.statuses["closed"].open is False
    assert statuses["fine"] == "OK"
    assert result.turned_silent == ["quiet"]
    assert result.statuses["behind"].entities["items"].lag_revisions == 50
    assert result.statuses["behind"].entities["items"].lag_seconds == 30.0


def test_removed_store_and_delivered() -> None:
    clock = RevisionClock()
    first = evaluate(
        _snapshot({"a": {}, "b": {}}, {"a": _beat(1, 40), "b": _beat(1, 100)}),
        None,
        {},
        clock,
        DEFAULTS,
        NOW,
        _all_scope(),
    )
    later = NOW + timedelta(seconds=15)

    second = evaluate(
        _snapshot({"a": {}}, {"a": _beat(1, 70)}),
        None,
        first.statuses,
        clock,
        DEFAULTS,
        later,
        _all_scope(),
    )

    assert second.statuses["b"].status == "REMOVED"
    assert second.statuses["b"].since == later
    assert [p.delivered for p in second.history if p.entity == "items"] == [30]
    messages = [event.message for event in second.events]
    assert "store b: OK -> REMOVED" in messages


def test_group_thresholds_take_smallest() -> None:
    groups = {"msk": {"lag_revisions": 5}, "spb": {"lag_revisions": 3}}

    found = store_thresholds(DEFAULTS, ["msk", "spb", "other"], groups)

    assert found.lag_revisions == 3
    assert found.silent_after_seconds == DEFAULTS.silent_after_seconds


@pytest.mark.parametrize(
    ("hour", "expected"), [(21, True), (2, True), (12, False), (None, True)]
)
def test_opening_hours_past_midnight(hour: int | None, expected: bool) -> None:
    store = {"timezone": "Europe/Moscow", "opens": "20:00", "closes": "04:00"}
    if hour is None:
        store = {}
    local = datetime(2025, 3, 3, hour or 0, 30, tzinfo=UTC) + timedelta(hours=-3)

    assert is_open(store, local) is expected


class _Recorder(AlertSender):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "http://127.0.0.1:8090/")
        self.sent: list[dict[str, Any]] = []

    async def send(self, payloads: list[dict[str, Any]]) -> bool:
        self.sent += payloads
        return True


def _silent(store_id: str) -> Alert:
    labels = {"alertname": "StoreSilent", "store_id": store_id, "severity": "critical"}
    return Alert(labels, "silent", "no contact")


async def test_alerter_dedupes_repeats_and_holds() -> None:
    sender = _Recorder()
    alerter = Alerter(sender, repeat_seconds=60)

    fired = await alerter.update([_silent("a")], NOW)
    again = await alerter.update([_silent("a")], NOW + timedelta(seconds=10))
    repeated = len(sender.sent)
    await alerter.update([_silent("a")], NOW + timedelta(seconds=70))
    held = await alerter.update(
        [], NOW + timedelta(seconds=80), hold=frozenset({"StoreSilent"})
    )
    resolved = await alerter.update([], NOW + timedelta(seconds=90))

    assert [event.kind for event in fired] == ["alert_fired"]
    assert again == []
    assert repeated == 1
    assert held == []
    assert [event.kind for event in resolved] == ["alert_resolved"]
    assert len(sender.sent) == 3
    assert sender.sent[-1]["endsAt"] == (NOW + timedelta(seconds=90)).isoformat()
    assert sender.sent[-1]["labels"] == sender.sent[0]["labels"]
