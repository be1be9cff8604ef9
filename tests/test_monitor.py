"""The monitor against the real servers: silence, storms, new stores, outages."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from contracts import store_scope
from erp_simulator import Catalogue
from hub.credentials import StoreSecrets, amqp_url_with_user
from hub.repository import Repository
from hub.runtime import Broker, publish
from hub.serving import BackgroundServer, free_port
from hub.settings import Settings
from hub.stores import StoreRecord
from monitor.app import create_monitor_app
from monitor.model import HEALTH, STATUS
from monitor.runner import Monitor
from monitor.settings import MonitorSettings
from store_agent.agent import StoreAgent
from store_agent.settings import AgentSettings
from tests.conftest import PrivateFerretDB
from tests.delivery_support import insert_store, item_change, wait_for
from tests.test_end_to_end import Hub, _hub
from tests.test_onboarding import _cli

pytestmark = pytest.mark.integration

ITEMS = "items"


class Receiver:
    """A webhook that records every alert POSTed to /api/v2/alerts."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.url = ""

    def named(self, name: str, *, firing: bool) -> list[dict[str, Any]]:
        """Return the received alerts called ``name`` that fire (or resolve)."""
        now = datetime.now(UTC)
        return [
            alert
            for alert in self.alerts
            if alert["labels"]["alertname"] == name
            and (datetime.fromisoformat(alert["endsAt"]) > now) == firing
        ]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    received = Receiver()
    app = FastAPI()

    @app.post("/api/v2/alerts")
    async def alerts(request: Request) -> dict[str, str]:
        received.alerts.extend(await request.json())
        return {}

    async with BackgroundServer(app) as server:
        received.url = server.url
        yield received


def _monitor_settings(settings: Settings, **changes: Any) -> MonitorSettings:
    base = settings.model_dump()
    base.update(
        monitor_interval_seconds=0.3,
        monitor_silent_after_seconds=2.0,
        alert_repeat_seconds=3600.0,
    )
    base.update(changes)
    return MonitorSettings(**base)


@contextlib.asynccontextmanager
async def _running(monitor: Monitor) -> AsyncIterator[Monitor]:
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    try:
        yield monitor
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _status_is(
    monitor: Monitor, store_id: str, status: str
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        known = monitor.statuses.get(store_id)
        return known is not None and known.status == status

    return check


@pytest.fixture
async def hub(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> AsyncIterator[Hub]:
    catalogue = Catalogue.generate(seed=5, items=20)
    async for opened in _hub(settings, repository, broker, catalogue, cleanup_queues):
        yield opened


def _agent(
    hub: Hub, store: StoreRecord, secrets: StoreSecrets, folder: Path
) -> StoreAgent:
    assert secrets.broker_user is not None
    assert secrets.broker_password is not None
    return StoreAgent(
        AgentSettings(
            store_id=store.store_id,
            mode="amqp",
            hub_url=hub.api_url,
            amqp_url=amqp_url_with_user(
                hub.settings.amqp_url, secrets.broker_user, secrets.broker_password
            ),
            token=secrets.api_token,
            database=folder / f"{store.store_id}.sqlite3",
            entities=[ITEMS],
            pull_interval_seconds=0.2,
            heartbeat_interval_seconds=0.2,
        )
    )


async def test_stopped_agent_fires_and_resolves(
    hub: Hub, receiver: Receiver, tmp_path: Path
) -> None:
    store = await hub.register("amqp")
    secrets = hub.secrets[store.store_id]
    settings = _monitor_settings(hub.settings, alert_webhook_url=receiver.url)
    monitor = Monitor(settings, hub.repository)

    async with _running(monitor):
        async with _agent(hub, store, secrets, tmp_path):
            await wait_for(_status_is(monitor, store.store_id, "OK"), "status OK")
        await wait_for(_status_is(monitor, store.store_id, "SILENT"), "status SILENT")
        await wait_for(
            lambda: _true(bool(receiver.named("StoreSilent", firing=True))),
            "a StoreSilent alert",
        )
        await hub.repository.write_changes(ITEMS, [item_change("late")])
        await publish(hub.settings, hub.repository, hub.broker, ITEMS)
        async with _agent(hub, store, secrets, tmp_path) as agent:
            await wait_for(
                lambda: _true(agent.local_store.count(ITEMS) >= 1), "the catch-up"
            )
            await wait_for(
                lambda: _true(bool(receiver.named("StoreSilent", firing=False))),
                "the StoreSilent resolve",
            )

    fired = receiver.named("StoreSilent", firing=True)
    resolved = receiver.named("StoreSilent", firing=False)
    assert len(fired) == 1
    assert fired[0]["labels"]["store_id"] == store.store_id
    assert fired[0]["labels"]["severity"] == "critical"
    assert store.store_id in fired[0]["annotations"]["summary"]
    assert len(resolved) == 1
    assert resolved[0]["labels"] == fired[0]["labels"]
    assert monitor.statuses[store.store_id].status == "OK"


async def _true(value: bool) -> bool:
    return value


async def _silent_stores(repository: Repository, count: int) -> list[str]:
    """Insert stores whose last heartbeat is an hour old."""
    ids = []
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    for _ in range(count):
        store, _ = await insert_store(repository, prefix="m")
        await repository.db.store_state.insert_one(
            {"_id": store.store_id, "heartbeat": {"at": long_ago, "applied": {}}}
        )
        ids.append(store.store_id)
    return ids


async def test_broker_down_sends_one_alert(
    settings: Settings, repository: Repository, receiver: Receiver
) -> None:
    await _silent_stores(repository, 4)
    closed = free_port()
    monitor = Monitor(
        _monitor_settings(
            settings,
            amqp_url=f"amqp://guest:guest@127.0.0.1:{closed}/",
            amqp_management_url=f"http://127.0.0.1:{closed}",
            alert_webhook_url=receiver.url,
        ),
        repository,
    )

    for _ in range(3):
        health = await monitor.check_once()

    stored = await repository.db[HEALTH].find_one({"_id": "monitor"})
    names = [alert["labels"]["alertname"] for alert in receiver.alerts]
    assert names == ["BrokerDown"]
    assert health.broker_ok is False
    assert health.repository_ok is True
    assert stored is not None
    assert stored["broker_ok"] is False
    statuses = [status.status for status in monitor.statuses.values()]
    assert statuses == ["SILENT"] * 4


async def test_many_silent_stores_send_one_alert(
    settings: Settings, repository: Repository, receiver: Receiver
) -> None:
    await _silent_stores(repository, 4)
    monitor = Monitor(
        _monitor_settings(settings, alert_webhook_url=receiver.url), repository
    )

    for _ in range(2):
        await monitor.check_once()

    names = [alert["labels"]["alertname"] for alert in receiver.alerts]
    assert names == ["ManyStoresSilent"]
    assert "4 of 4" in receiver.alerts[0]["annotations"]["summary"]


async def test_cli_store_appears_in_status_and_metrics(
    settings: Settings, repository: Repository, cleanup_queues: list[str]
) -> None:
    app = create_monitor_app(_monitor_settings(settings), repository)
    async with BackgroundServer(app) as server:
        store_id = f"monitor{free_port()}"
        cleanup_queues.append(f"store.{store_id}.{ITEMS}")
        added = await asyncio.to_thread(_cli, settings, "add", store_id, "--name", "M")
        assert added.returncode == 0, added.stderr

        async def status_written() -> bool:
            row = await repository.db[STATUS].find_one({"_id": store_id})
            return row is not None

        await wait_for(status_written, "the store's monitor_status")
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = (await http.get("/metrics")).text

    row = await repository.db[STATUS].find_one({"_id": store_id})
    assert row is not None
    assert row["status"] == "NEVER_CONNECTED"
    assert row["name"] == "M"
    assert set(row["entities"]) >= {ITEMS}
    line = (
        f'retail_hub_store_status{{status="NEVER_CONNECTED",store_id="{store_id}"}} 1.0'
    )
    assert line in metrics
    assert (
        f'retail_hub_store_lag_revisions{{entity="items",store_id="{store_id}"}}'
        in metrics
    )


async def test_monitor_survives_repository_outage(
    settings: Settings, private_ferretdb: PrivateFerretDB, receiver: Receiver
) -> None:
    changed = _monitor_settings(
        settings,
        mongo_url=private_ferretdb.url,
        mongo_timeout_ms=300,
        alert_webhook_url=receiver.url,
    )
    repository = Repository.from_settings(changed)
    app = create_monitor_app(changed, repository)
    monitor: Monitor = app.state.monitor
    (store_id,) = await _silent_stores(repository, 1)
    try:
        async with (
            BackgroundServer(app) as server,
            httpx.AsyncClient(base_url=server.url) as http,
        ):
            await wait_for(lambda: _true(store_id in monitor.statuses), "a first check")
            private_ferretdb.stop()
            await wait_for(
                lambda: _true(bool(receiver.named("RepositoryDown", firing=True))),
                "a RepositoryDown alert",
            )
            checks = monitor.checks
            await wait_for(lambda: _true(monitor.checks >= checks + 2), "more checks")
            health = (await http.get("/health")).json()
            metrics = (await http.get("/metrics")).text

            private_ferretdb.start()
            await private_ferretdb.wait_ready()
            await wait_for(
                lambda: _true(bool(receiver.named("RepositoryDown", firing=False))),
                "the RepositoryDown resolve",
            )

            async def health_written() -> bool:
                row = await repository.db[HEALTH].find_one({"_id": "monitor"})
                return row is not None and row["repository_ok"] is True

            # The resolve is sent before the check writes its documents.
            await wait_for(health_written, "monitor_health written again")
    finally:
        await repository.close()

    assert health["repository_ok"] is False
    assert health["broker_ok"] is True
    assert "repository unavailable" in health["message"]
    assert "retail_hub_monitor_repository_up 0.0" in metrics
    assert f'store_id="{store_id}"' in metrics
    assert len(receiver.named("RepositoryDown", firing=True)) == 1


async def test_lag_counts_only_the_store_scopes(
    settings: Settings, repository: Repository
) -> None:
    # Documents scoped to one store, like stock: store a has one, store b
    # five. Each store's applied revision moves only with its own documents.
    a, _ = await insert_store(repository, prefix="m")
    b, _ = await insert_store(repository, prefix="m")
    await repository.write_changes(
        ITEMS, [item_change("a1", scope=store_scope(a.store_id))]
    )
    await repository.write_changes(
        ITEMS,
        [item_change(f"b{n}", scope=store_scope(b.store_id)) for n in range(5)],
    )
    now = datetime.now(UTC)
    await repository.db.store_state.insert_many(
        [
            {"_id": a.store_id, "heartbeat": {"at": now, "applied": {ITEMS: 1}}},
            {"_id": b.store_id, "heartbeat": {"at": now, "applied": {ITEMS: 3}}},
        ]
    )
    monitor = Monitor(_monitor_settings(settings, monitor_lag_revisions=2), repository)

    await monitor.check_once()
    # A change in another scope does not make store a lag.
    await repository.write_changes(
        ITEMS, [item_change("b0", version=2, scope=store_scope(b.store_id))]
    )
    await monitor.check_once()

    status_a, status_b = monitor.statuses[a.store_id], monitor.statuses[b.store_id]
    assert status_a.entities[ITEMS].lag_revisions == 0
    assert status_a.entities[ITEMS].hub_revision == 7
    assert status_a.status == "OK"
    # Revisions 4, 5, 6 and 7 are b's and above its applied 3.
    assert status_b.entities[ITEMS].lag_revisions == 4
    assert status_b.status == "LAGGING"
