"""Store onboarding: add, update, rotate and remove, on the real servers."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import httpx
import pytest

from contracts import (
    ENTITIES,
    SCOPE_ALL,
    binding_keys,
    document_hash,
    group_scope,
    queue_name,
)
from erp_simulator import Catalogue
from hub.audit import read_audit
from hub.broker import dead_letter_queue_name
from hub.credentials import (
    BrokerAdmin,
    StoreSecrets,
    amqp_url_with_user,
    broker_user_name,
)
from hub.delivery import DeliveryState
from hub.errors import BrokerManagementError, InvalidTokenError, StoreNotFoundError
from hub.repository import PendingChange, Repository
from hub.runtime import Broker, publish
from hub.settings import Settings
from hub.store_admin import remove_store, update_store
from hub.stores import StoreRecord, StoreRegistry
from store_agent.agent import StoreAgent
from store_agent.settings import AgentSettings
from tests.conftest import unique
from tests.test_end_to_end import Hub, _hub, _wait_converged
from tests.test_store_agent_support import item_data

pytestmark = pytest.mark.integration

ITEMS = "items"
WAIT_SECONDS = 30.0


@pytest.fixture
async def hub(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> AsyncIterator[Hub]:
    catalogue = Catalogue.generate(seed=11, items=200)
    async for opened in _hub(settings, repository, broker, catalogue, cleanup_queues):
        yield opened


def _agent(
    hub: Hub,
    store: StoreRecord,
    secrets: StoreSecrets,
    folder: Path,
    heartbeat_seconds: float = 30.0,
) -> StoreAgent:
    """Return an agent that uses only the store's own broker user and token."""
    assert secrets.broker_user is not None
    assert secrets.broker_password is not None
    return StoreAgent(
        AgentSettings(
            store_id=store.store_id,
            mode=store.transport,
            hub_url=hub.api_url,
            amqp_url=amqp_url_with_user(
                hub.settings.amqp_url, secrets.broker_user, secrets.broker_password
            ),
            token=secrets.api_token,
            database=folder / f"{store.store_id}.sqlite3",
            entities=[ITEMS],
            pull_interval_seconds=0.2,
            heartbeat_interval_seconds=heartbeat_seconds,
        )
    )


async def _bindings(
    settings: Settings, queue: str, exchange: str | None = None
) -> set[str]:
    """Return the routing keys that bind ``queue`` to ``exchange``.

    ``exchange`` defaults to the test's changes exchange.
    """
    source = exchange or settings.exchange
    url = f"{settings.amqp_management_url}/api/queues/%2F/{queue}/bindings"
    async with httpx.AsyncClient(auth=("guest", "guest")) as http:
        rows = (await http.get(url)).json()
    return {row["routing_key"] for row in rows if row["source"] == source}


async def test_add_declares_every_queue(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store_id = unique("add-")
    cleanup_queues.append(queue_name(store_id, ITEMS))

    registration = await StoreRegistry(repository).register(
        StoreRecord(store_id=store_id, name="test store", groups=["msk"]),
        broker.channel,
        broker.exchange,
        settings,
    )

    async with BrokerAdmin.from_settings(settings) as admin:
        queues = await admin.store_queues(store_id)
        user_exists = await admin.exists(broker_user_name(store_id))
    expected = [queue_name(store_id, entity) for entity in ENTITIES]
    expected.append(dead_letter_queue_name(store_id))
    assert registration.created
    assert user_exists
    assert sorted(queues) == sorted(expected)
    for entity in ENTITIES:
        keys = await _bindings(settings, queue_name(store_id, entity))
        assert keys == set(binding_keys(entity, store_id, ["msk"])), entity
    dead_letter_keys = await _bindings(
        settings, dead_letter_queue_name(store_id), settings.dead_letter_exchange
    )
    assert dead_letter_keys == {store_id}


async def test_add_without_management_api_fails(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store_id = unique("add-")
    cleanup_queues.append(queue_name(store_id, ITEMS))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe socket is closed.
    unreachable = settings.model_copy(
        update={"amqp_management_url": f"http://127.0.0.1:{port}"}
    )
    registry = StoreRegistry(repository)

    with pytest.raises(BrokerManagementError, match="unreachable"):
        await registry.register(
            StoreRecord(store_id=store_id, name="test store"),
            broker.channel,
            broker.exchange,
            unreachable,
        )

    with pytest.raises(StoreNotFoundError):
        await registry.get(store_id)
    assert not broker.channel.is_closed


async def test_add_with_failed_binding_fails(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store_id = unique("add-")
    cleanup_queues.append(queue_name(store_id, ITEMS))
    channel = await broker.connection.channel()
    # An exchange object for a name that was never declared, so binding fails.
    missing = await channel.get_exchange(unique("rh-test-missing-"), ensure=False)
    registry = StoreRegistry(repository)

    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        await registry.register(
            StoreRecord(store_id=store_id, name="test store"),
            channel,
            missing,
            settings,
        )

    with pytest.raises(StoreNotFoundError):
        await registry.get(store_id)


async def test_added_store_converges_after_one_run(hub: Hub, tmp_path: Path) -> None:
    store = await hub.register("amqp", ["msk"])

    async with _agent(hub, store, hub.secrets[store.store_id], tmp_path) as agent:
        await hub.run_and_publish()
        (result,) = await _wait_converged(hub, [(store, agent)])

    assert result.converged
    assert result.store_documents > 0


async def test_second_add_changes_nothing(hub: Hub) -> None:
    store = await hub.register("amqp", ["msk"])
    first = hub.secrets[store.store_id]
    queue = f"store.{store.store_id}.{ITEMS}"
    bindings = await _bindings(hub.settings, queue)
    registry = StoreRegistry(hub.repository)

    again = await registry.register(
        StoreRecord(store_id=store.store_id, name="test store", groups=["msk"]),
        hub.broker.channel,
        hub.broker.exchange,
        hub.settings,
    )

    assert again.created is False
    assert again.secrets is None
    assert again.record == store
    assert await _bindings(hub.settings, queue) == bindings
    assert first.api_token is not None
    assert (await registry.authorize(store.store_id, first.api_token)) == store
    assert first.broker_user is not None
    assert first.broker_password is not None
    url = amqp_url_with_user(
        hub.settings.amqp_url, first.broker_user, first.broker_password
    )
    async with await aio_pika.connect(url) as connection:
        assert not connection.is_closed


async def test_remove_deletes_everything(hub: Hub) -> None:
    store = await hub.register("pull")
    secrets = hub.secrets[store.store_id]
    registry = StoreRegistry(hub.repository)
    delivery = DeliveryState(hub.repository)
    await hub.repository.write_changes(ITEMS, [_change("a", SCOPE_ALL)])
    await delivery.ack(store.store_id, ITEMS, 1)
    await hub.repository.db.store_state.insert_one({"_id": store.store_id})

    await remove_store(
        registry, store.store_id, hub.broker.channel, hub.settings, actor="tester"
    )

    async with BrokerAdmin.from_settings(hub.settings) as admin:
        assert await admin.store_queues(store.store_id) == []
        assert secrets.broker_user is not None
        assert not await admin.exists(secrets.broker_user)
    assert secrets.api_token is not None
    with pytest.raises(InvalidTokenError):
        await registry.authorize(store.store_id, secrets.api_token)
    assert await delivery.cursor(store.store_id, ITEMS) == 0
    assert await hub.repository.db.store_state.find_one({"_id": store.store_id}) is None
    audit = await read_audit(hub.repository, store.store_id)
    assert [record["action"] for record in audit] == ["add", "remove"]
    assert audit[-1]["actor"] == "tester"


def _change(key: str, scope: str) -> PendingChange:
    data = item_data(key)
    return PendingChange(key, document_hash(data), scope, data)


async def _wait_held(agent: StoreAgent, keys: set[str]) -> set[str]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        held = await asyncio.to_thread(agent.local_store.live_documents, ITEMS)
        if keys <= held.keys() or time.monotonic() > deadline:
            return set(held)
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("transport", ["pull", "amqp"])
async def test_new_group_is_caught_up(hub: Hub, tmp_path: Path, transport: str) -> None:
    store = await hub.register(transport, ["msk"])
    secrets = hub.secrets[store.store_id]
    await hub.repository.write_changes(
        ITEMS,
        [
            _change("everyone", SCOPE_ALL),
            _change("moscow", group_scope("msk")),
            _change("petersburg", group_scope("spb")),
        ],
    )
    await publish(hub.settings, hub.repository, hub.broker, ITEMS)
    queue = f"store.{store.store_id}.{ITEMS}"

    async with _agent(hub, store, secrets, tmp_path) as agent:
        before = await _wait_held(agent, {"everyone", "moscow"})
    await update_store(
        StoreRegistry(hub.repository),
        store.store_id,
        hub.broker.channel,
        hub.broker.exchange,
        hub.settings,
        groups=["spb"],
    )
    # An AMQP store catches up at its next start, a pull store at its next pull.
    async with _agent(hub, store, secrets, tmp_path) as agent:
        after = await _wait_held(agent, {"petersburg"})
    stored = await StoreRegistry(hub.repository).get(store.store_id)

    assert before == {"everyone", "moscow"}
    assert ITEMS + ".group.spb" in await _bindings(hub.settings, queue)
    assert ITEMS + ".group.msk" not in await _bindings(hub.settings, queue)
    assert "petersburg" in after
    # Documents held before the change are kept.
    assert {"everyone", "moscow"} <= after
    assert ITEMS not in stored.resync_from


async def test_running_agent_learns_new_group(hub: Hub, tmp_path: Path) -> None:
    store = await hub.register("amqp", ["msk"])
    secrets = hub.secrets[store.store_id]
    await hub.repository.write_changes(
        ITEMS,
        [_change("moscow", group_scope("msk")), _change("samara", group_scope("smr"))],
    )
    await publish(hub.settings, hub.repository, hub.broker, ITEMS)

    async with _agent(hub, store, secrets, tmp_path, heartbeat_seconds=0.3) as agent:
        before = await _wait_held(agent, {"moscow"})
        await update_store(
            StoreRegistry(hub.repository),
            store.store_id,
            hub.broker.channel,
            hub.broker.exchange,
            hub.settings,
            groups=["msk", "smr"],
        )
        after = await _wait_held(agent, {"moscow", "samara"})

    assert before == {"moscow"}
    assert after == {"moscow", "samara"}


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    # The test's own database, exchanges and any other setting it changed.
    env = dict(os.environ)
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value != field.default:
            env[f"RETAIL_HUB_{name.upper()}"] = str(value)
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "store", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_store_commands_print_json(
    settings: Settings, cleanup_queues: list[str]
) -> None:
    store_id = unique("cli-")
    cleanup_queues.append(f"store.{store_id}.{ITEMS}")

    added = _cli(settings, "add", store_id, "--name", "Тверская 7", "--group", "msk")
    again = _cli(settings, "add", store_id, "--name", "Тверская 7", "--group", "msk")
    updated = _cli(settings, "update", store_id, "--group", "spb")
    shown = _cli(settings, "show", store_id)
    rotated = _cli(settings, "rotate-token", store_id)
    removed = _cli(settings, "remove", store_id)
    missing = _cli(settings, "show", store_id)

    for result in (added, again, updated, shown, rotated, removed):
        assert result.returncode == 0, result.stderr
    first = json.loads(added.stdout)
    assert first["status"] == "registered"
    assert first["broker_user"] == f"store-{store_id}"
    assert len(first["api_token"]) >= 40
    assert len(first["broker_password"]) >= 40
    second = json.loads(again.stdout)
    assert second["status"] == "already registered"
    assert "api_token" not in second
    assert "broker_password" not in second
    assert json.loads(updated.stdout)["groups"] == ["spb"]
    assert json.loads(updated.stdout)["resync_from"][ITEMS] == 0
    assert json.loads(shown.stdout)["broker_user"] == f"store-{store_id}"
    assert json.loads(rotated.stdout)["api_token"] != first["api_token"]
    assert json.loads(removed.stdout) == {"store_id": store_id, "removed": True}
    assert missing.returncode == 1
    assert "not registered" in missing.stderr
