"""At-least-once delivery on the real servers: dead letters, restarts, catch-up.

Each test plays the hub with its own database, exchanges and store queues,
publishes with ``hub.runtime.publish`` (which runs the backlog check) and
checks convergence with ``hub.convergence.compare_store``.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest

from contracts import SCOPE_ALL, batch_message_id, queue_name
from hub.api import create_app
from hub.broker import dead_letter_queue_name, declare_store_queue
from hub.convergence import compare_store
from hub.delivery import DeliveryState
from hub.publisher_loop import PublisherLoop
from hub.repository import PendingChange, Repository
from hub.runtime import Broker, publish
from hub.serving import BackgroundServer, free_port
from hub.settings import Settings
from hub.stores import StoreRecord
from store_agent.agent import StoreAgent
from store_agent.local_store import LocalStore
from store_agent.puller import Puller
from store_agent.settings import AgentSettings
from store_agent.validation import parse_batch
from tests.delivery_support import insert_store, item_change, wait_for

pytestmark = pytest.mark.integration

ITEMS = "items"


@dataclass
class Hub:
    settings: Settings
    repository: Repository
    broker: Broker
    api_url: str
    queues: list[str]
    tokens: dict[str, str]

    async def add_store(self, groups: list[str] | None = None) -> StoreRecord:
        store, token = await insert_store(self.repository, groups, prefix="dl")
        self.tokens[store.store_id] = token
        self.queues.append(queue_name(store.store_id, ITEMS))
        await declare_store_queue(
            self.broker.channel,
            self.broker.exchange,
            self.settings,
            store_id=store.store_id,
            entity=ITEMS,
            groups=store.groups,
        )
        return store

    def agent(self, store: StoreRecord, database: Path) -> StoreAgent:
        return StoreAgent(
            AgentSettings(
                store_id=store.store_id,
                mode="amqp",
                hub_url=self.api_url,
                token=self.tokens[store.store_id],  # type: ignore[arg-type]
                amqp_url=self.settings.amqp_url,
                database=database,
                entities=[ITEMS],
                heartbeat_interval_seconds=0.2,
                requeue_delay_seconds=0.1,
            )
        )

    async def commit(self, keys: list[str], version: int) -> None:
        changes = [item_change(key, version) for key in keys]
        await self.repository.write_changes(ITEMS, changes)

    async def publish(self) -> None:
        await publish(self.settings, self.repository, self.broker, ITEMS)

    async def depth(self, name: str) -> int:
        queue = await self.broker.channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0


@pytest.fixture
async def hub(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> AsyncIterator[Hub]:
    settings = settings.model_copy(
        update={"store_backlog_limit": 5, "publish_batch_size": 1}
    )
    async with BackgroundServer(create_app(settings, repository)) as api:
        yield Hub(settings, repository, broker, api.url, cleanup_queues, {})


async def _converged(hub: Hub, store: StoreRecord, local: LocalStore) -> bool:
    documents = await asyncio.to_thread(local.live_documents, ITEMS)
    revision = await asyncio.to_thread(local.applied_revision, ITEMS)
    result = await compare_store(hub.repository, store, ITEMS, documents, revision)
    return result.converged


async def test_poison_message_goes_to_dead_letters(hub: Hub, tmp_path: Path) -> None:
    store = await hub.add_store()
    poison = aio_pika.Message(b"{not json", message_id="poison-1")
    await hub.broker.channel.default_exchange.publish(
        poison, routing_key=queue_name(store.store_id, ITEMS)
    )
    await hub.commit(["a", "b"], 1)
    await hub.publish()

    async with hub.agent(store, tmp_path / "s.sqlite3") as agent:
        await wait_for(lambda: _converged(hub, store, agent.local_store), "convergence")
        dead = dead_letter_queue_name(store.store_id)
        await wait_for(lambda: _equals(hub.depth(dead), 1), "one dead letter")

    queue = await hub.broker.channel.declare_queue(dead, passive=True)
    message = await queue.get(no_ack=True)
    assert message.message_id == "poison-1"
    assert message.headers["x-first-death-reason"] == "rejected"
    assert message.headers["x-first-death-queue"] == queue_name(store.store_id, ITEMS)


async def test_rejected_batch_is_pulled_and_reported(hub: Hub, tmp_path: Path) -> None:
    store = await hub.add_store()
    async with hub.agent(store, tmp_path / "s.sqlite3") as agent:
        # Revisions 1-2 reach the queue only in a batch the agent cannot read,
        # and revision 3 follows in a good batch.
        await hub.commit(["a", "b"], 1)
        await hub.repository.advance_watermark(ITEMS, 2)
        unreadable = {
            "entity": ITEMS,
            "schema_version": 99,
            "scope": SCOPE_ALL,
            "rev_from": 1,
            "rev_to": 2,
            "documents": [],
        }
        await hub.broker.channel.default_exchange.publish(
            aio_pika.Message(json.dumps(unreadable).encode(), message_id="future-1"),
            routing_key=queue_name(store.store_id, ITEMS),
        )
        await hub.commit(["c"], 1)
        await hub.publish()

        await wait_for(lambda: _converged(hub, store, agent.local_store), "convergence")
        held = await asyncio.to_thread(agent.local_store.live_documents, ITEMS)

    assert set(held) == {"a", "b", "c"}
    recorded = await hub.repository.db.rejections.find_one({"store_id": store.store_id})
    assert recorded is not None
    assert recorded["message_id"] == "future-1"
    assert "schema_version" in recorded["reason"]


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_stopped_agent_converges_after_three_runs(
    hub: Hub, tmp_path: Path
) -> None:
    # A backlog limit above what three runs send keeps the queue fed.
    hub.settings = hub.settings.model_copy(update={"store_backlog_limit": 1000})
    store = await hub.add_store(["msk"])
    database = tmp_path / "s.sqlite3"
    await hub.commit([f"k{i}" for i in range(20)], 1)
    await hub.publish()
    async with hub.agent(store, database) as agent:
        await wait_for(lambda: _converged(hub, store, agent.local_store), "first")

    for run in range(2, 5):
        edited = [f"k{i}" for i in range(run, 20, 3)] + [f"new{run}"]
        await hub.commit(edited, run)
        gone = PendingChange(f"k{run + 10}", "deleted", SCOPE_ALL, None)
        await hub.repository.write_changes(ITEMS, [gone])
        await hub.publish()
    assert await hub.depth(queue_name(store.store_id, ITEMS)) > 0

    async with hub.agent(store, database) as agent:
        await wait_for(lambda: _converged(hub, store, agent.local_store), "restart")
        assert agent.local_store.document(ITEMS, "k14") is not None
        assert agent.local_store.document(ITEMS, "new4") is not None


async def test_overflowed_queue_converges_by_catch_up(hub: Hub, tmp_path: Path) -> None:
    store = await hub.add_store()
    name = queue_name(store.store_id, ITEMS)
    delivery = DeliveryState(hub.repository)
    for version in range(1, 9):
        await hub.commit([f"k{version}"], version)
        await hub.publish()

    state = await delivery.state(store.store_id)
    assert "items" in state["catching_up"]
    assert await hub.depth(name) == 0

    async with hub.agent(store, tmp_path / "s.sqlite3") as agent:
        local = agent.local_store

        async def caught_up() -> bool:
            # Publishing runs the backlog check, which binds the queue again.
            await hub.publish()
            state = await delivery.state(store.store_id)
            return not state.get("catching_up")

        await wait_for(caught_up, "the end of the catch-up")
        # Fed by the queue again: the agent pulls no more, so these arrive
        # by AMQP.
        await hub.commit(["after-1", "after-2"], 1)
        await hub.publish()
        await wait_for(lambda: _converged(hub, store, local), "convergence")


async def test_queue_depths_are_read_only_before_a_publish(hub: Hub) -> None:
    store = await hub.add_store()
    name = queue_name(store.store_id, ITEMS)
    delivery = DeliveryState(hub.repository)
    await hub.commit(["a"], 1)
    await hub.publish()
    # Messages from elsewhere fill the queue past the limit of 5.
    for number in range(6):
        await hub.broker.channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=f"other-{number}"), routing_key=name
        )

    await hub.publish()
    assert "catching_up" not in await delivery.state(store.store_id)
    assert await hub.depth(name) == 7

    await hub.commit(["b"], 1)
    await hub.publish()
    assert "items" in (await delivery.state(store.store_id))["catching_up"]
    assert await hub.depth(name) == 0


async def test_hundred_changes_arrive_once(hub: Hub, tmp_path: Path) -> None:
    store = await hub.add_store()
    name = queue_name(store.store_id, ITEMS)
    depths = []
    for version in range(1, 101):
        await hub.commit(["hot"], version)
        await hub.publish()
        depths.append(await hub.depth(name))

    assert max(depths) <= hub.settings.store_backlog_limit
    assert depths[-1] == 0

    # The catch-up pull ends at the latest version, and after compaction the
    # repository contains that version only, so a pull receives it once.
    async with hub.agent(store, tmp_path / "s.sqlite3") as agent:
        local = agent.local_store
        with LocalStore(tmp_path / "probe.sqlite3") as probe:
            async with Puller(
                hub.api_url, store.store_id, probe, token=hub.tokens[store.store_id]
            ) as puller:
                before_compaction = await puller.pull_once(ITEMS)
        assert before_compaction.applied_revision == 100
        assert await hub.repository.compact(ITEMS) == 99
        with LocalStore(tmp_path / "probe-compacted.sqlite3") as probe:
            async with Puller(
                hub.api_url, store.store_id, probe, token=hub.tokens[store.store_id]
            ) as puller:
                result = await puller.pull_once(ITEMS)
        assert result.documents == 1
        await wait_for(lambda: _converged(hub, store, local), "convergence")
        held = local.document(ITEMS, "hot")
        assert held is not None
        assert held.rev == 100


async def test_redelivery_after_commit_changes_nothing(
    hub: Hub, tmp_path: Path
) -> None:
    store = await hub.add_store()
    name = queue_name(store.store_id, ITEMS)
    await hub.commit([f"k{i}" for i in range(5)], 1)
    await hub.publish()
    database = tmp_path / "s.sqlite3"

    # An agent applies and commits a message, then dies before its ack.
    connection = await aio_pika.connect(hub.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        message = await queue.get(no_ack=False)
        batch = parse_batch(message.body, ITEMS)
        with LocalStore(database) as local:
            local.apply(ITEMS, batch.documents)
            before = local.live_documents(ITEMS)
    assert await hub.depth(name) == 5

    async with hub.agent(store, database) as agent:
        await wait_for(lambda: _converged(hub, store, agent.local_store), "redelivery")
        await wait_for(lambda: _equals(hub.depth(name), 0), "an empty queue")
        after = agent.local_store.live_documents(ITEMS)

    assert after[batch.documents[0].key] == before[batch.documents[0].key]
    assert message.message_id == batch_message_id(
        ITEMS, "all", batch.rev_from, batch.rev_to
    )
    assert json.loads(message.body)["rev_from"] == 1


async def test_changes_committed_while_broker_down_arrive(
    hub: Hub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub.settings = hub.settings.model_copy(update={"store_backlog_limit": 1000})
    stores = [await hub.add_store(), await hub.add_store(["msk"])]
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    loop = PublisherLoop(
        hub.settings.model_copy(
            update={"amqp_url": closed, "publish_interval_seconds": 0.2}
        ),
        hub.repository,
        [ITEMS],
        base_delay_seconds=0.05,
        max_delay_seconds=0.2,
    )
    caplog.set_level(logging.WARNING, logger="hub.publisher_loop")

    async with (
        hub.agent(stores[0], tmp_path / "a.sqlite3") as first,
        hub.agent(stores[1], tmp_path / "b.sqlite3") as second,
    ):
        task = asyncio.create_task(loop.run())
        try:
            await hub.commit([f"k{i}" for i in range(30)], 1)
            await wait_for(lambda: _true(loop.failed_attempts >= 3), "three retries")
            await hub.commit([f"k{i}" for i in range(0, 30, 2)], 2)
            assert await hub.repository.published_revision(ITEMS) == 0

            # The broker becomes reachable.
            loop.settings = loop.settings.model_copy(
                update={"amqp_url": hub.settings.amqp_url}
            )
            for store, agent in zip(stores, (first, second), strict=True):
                held = agent.local_store
                await wait_for(
                    lambda s=store, h=held: _converged(hub, s, h), "convergence"
                )
            assert await hub.repository.published_revision(ITEMS) == 45
        finally:
            loop.request_stop()
            await asyncio.wait_for(task, timeout=10)

    retries = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert retries[0].startswith("publisher: attempt 1 failed")
    assert any("attempt 3 failed" in text for text in retries)


async def _true(value: bool) -> bool:
    return value
