"""Integration tests of the store agent's consumer against the local RabbitMQ.

Each test plays the hub: it declares its own durable store queue, with a
dead-letter exchange and queue of its own, publishes ChangeBatch messages,
and deletes all three at the end.
"""

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from contracts import (
    HEADER_ENTITY,
    HEADER_REV_FROM,
    HEADER_REV_TO,
    HEADER_SCHEMA_VERSION,
    HEADER_SCOPE,
    ChangeBatch,
    ChangeDocument,
    batch_message_id,
    queue_name,
)
from hub.serving import BackgroundServer
from store_agent.agent import StoreAgent
from store_agent.amqp_consumer import AmqpConsumer
from store_agent.local_store import ApplyResult, LocalStore
from store_agent.settings import AgentSettings
from tests.test_store_agent_support import (
    FakeHub,
    batch_of,
    live,
    tombstone,
    wait_until,
)

pytestmark = pytest.mark.integration

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
MANAGEMENT_URL = "http://127.0.0.1:15672"


@dataclass
class HubSide:
    """The test's own queues, and the channel it publishes on."""

    store_id: str
    channel: AbstractChannel
    queue: AbstractQueue
    dead_letters: AbstractQueue

    async def publish_batch(self, batch: ChangeBatch) -> str:
        message_id = batch_message_id(
            batch.entity, batch.scope, batch.rev_from, batch.rev_to
        )
        headers: dict[str, Any] = {
            HEADER_ENTITY: batch.entity,
            HEADER_SCHEMA_VERSION: batch.schema_version,
            HEADER_SCOPE: batch.scope,
            HEADER_REV_FROM: batch.rev_from,
            HEADER_REV_TO: batch.rev_to,
        }
        await self.publish(batch.model_dump_json().encode(), message_id, headers)
        return message_id

    async def publish(
        self, body: bytes, message_id: str, headers: dict[str, Any] | None = None
    ) -> None:
        message = aio_pika.Message(
            body,
            headers=headers,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.channel.default_exchange.publish(
            message, routing_key=self.queue.name
        )

    async def ready_count(self, queue: AbstractQueue) -> int:
        """Return the ready messages of ``queue`` (unacknowledged ones not counted)."""
        declared = await self.channel.declare_queue(queue.name, passive=True)
        count = declared.declaration_result.message_count
        assert count is not None
        return count


@pytest.fixture
async def hub_side() -> AsyncIterator[HubSide]:
    store_id = f"t{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        dead_letter_exchange = await channel.declare_exchange(
            f"test.{store_id}.dlx", aio_pika.ExchangeType.FANOUT, auto_delete=True
        )
        dead_letters = await channel.declare_queue(
            f"test.{store_id}.dead", durable=False
        )
        await dead_letters.bind(dead_letter_exchange)
        queue = await channel.declare_queue(
            queue_name(store_id, "items"),
            durable=True,
            arguments={"x-dead-letter-exchange": dead_letter_exchange.name},
        )
        try:
            yield HubSide(store_id, channel, queue, dead_letters)
        finally:
            await queue.delete(if_unused=False, if_empty=False)
            await dead_letters.delete(if_unused=False, if_empty=False)
            await dead_letter_exchange.delete()
    finally:
        await connection.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    with LocalStore(tmp_path / "store.sqlite3") as local_store:
        yield local_store


def make_consumer(hub: HubSide, store: LocalStore) -> AmqpConsumer:
    return AmqpConsumer(
        AMQP_URL, hub.store_id, ["items"], store, prefetch=8, requeue_delay_seconds=0.05
    )


def first_batches() -> list[ChangeBatch]:
    return [
        batch_of([live("a", 1), live("b", 2)]),
        batch_of([live("c", 3), live("a", 4, "Milk 2 l")]),
        batch_of([tombstone("b", 5)]),
    ]


async def test_consumer_applies_batches(hub_side: HubSide, store: LocalStore) -> None:
    for batch in first_batches():
        await hub_side.publish_batch(batch)
    consumer = make_consumer(hub_side, store)

    await consumer.start()
    try:
        await wait_until(lambda: store.applied_revision("items") == 5, "revision 5")
    finally:
        await consumer.stop()

    documents = store.live_documents("items")
    assert set(documents) == {"a", "c"}
    assert documents["a"].rev == 4
    assert documents["a"].data is not None
    assert documents["a"].data["name"] == "Milk 2 l"
    assert store.count("items") == 2
    # Closing the consumer's channel would requeue unacknowledged messages.
    assert await hub_side.ready_count(hub_side.queue) == 0
    assert await hub_side.ready_count(hub_side.dead_letters) == 0


async def test_duplicate_delivery_changes_nothing(
    hub_side: HubSide, store: LocalStore, caplog: pytest.LogCaptureFixture
) -> None:
    for batch in first_batches():
        await hub_side.publish_batch(batch)
        await hub_side.publish_batch(batch)
    consumer = make_consumer(hub_side, store)

    with caplog.at_level(logging.DEBUG, logger="store_agent.amqp_consumer"):
        await consumer.start()
        try:
            await wait_until(
                lambda: caplog.text.count("applied message") == 6,
                "six handled messages",
            )
        finally:
            await consumer.stop()

    documents = store.live_documents("items")
    assert set(documents) == {"a", "c"}
    assert documents["a"].rev == 4
    assert store.applied_revision("items") == 5
    assert caplog.text.count("seen before") == 3
    assert caplog.text.count("0 applied") == 3
    assert await hub_side.ready_count(hub_side.queue) == 0


async def test_poison_messages_dead_lettered(
    hub_side: HubSide, store: LocalStore, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_version = batch_of([live("x", 1)]).model_copy(update={"schema_version": 99})
    await hub_side.publish(b"{this is not json", "poison-json")
    await hub_side.publish(b'{"documents": "none"}', "poison-shape")
    await hub_side.publish(
        batch_of([live("x", 1)], "prices").model_dump_json().encode(), "poison-entity"
    )
    await hub_side.publish(wrong_version.model_dump_json().encode(), "poison-version")
    await hub_side.publish_batch(batch_of([live("good", 7)]))
    consumer = make_consumer(hub_side, store)

    with caplog.at_level(logging.ERROR, logger="store_agent.amqp_consumer"):
        await consumer.start()
        try:
            await wait_until(lambda: store.count("items") == 1, "the good batch")
        finally:
            await consumer.stop()

    assert set(store.live_documents("items")) == {"good"}
    assert store.applied_revision("items") == 7
    assert await hub_side.ready_count(hub_side.queue) == 0
    dead_ids = await drain_message_ids(hub_side.dead_letters)
    assert dead_ids == [
        "poison-json",
        "poison-shape",
        "poison-entity",
        "poison-version",
    ]
    for message_id in dead_ids:
        assert f"rejected message {message_id}" in caplog.text
    assert "unsupported schema_version 99" in caplog.text


async def drain_message_ids(queue: AbstractQueue, limit: int = 100) -> list[str]:
    """Return the ids of the messages in ``queue``, removing them."""
    message_ids = []
    for _ in range(limit):
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            break
        message_ids.append(message.message_id or "")
    return message_ids


class FailingStore(LocalStore):
    """A LocalStore whose first ``failures`` applies raise a disk I/O error."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.calls = 0

    def apply(
        self,
        entity: str,
        documents: Sequence[ChangeDocument],
        revision: int | None = None,
    ) -> ApplyResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError("disk I/O error")
        return super().apply(entity, documents, revision)


async def test_failed_commit_is_requeued(
    hub_side: HubSide, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = await hub_side.publish_batch(batch_of([live("a", 1)]))
    with FailingStore(tmp_path / "store.sqlite3", failures=1) as store:
        consumer = make_consumer(hub_side, store)
        with caplog.at_level(logging.DEBUG, logger="store_agent.amqp_consumer"):
            await consumer.start()
            try:
                await wait_until(lambda: store.count("items") == 1, "the retried batch")
            finally:
                await consumer.stop()

        assert store.calls == 2
    assert f"commit of message {message_id}" in caplog.text
    assert "requeueing it in 0.1 s" in caplog.text
    assert "redelivered flag True" in caplog.text
    assert await hub_side.ready_count(hub_side.queue) == 0
    assert await hub_side.ready_count(hub_side.dead_letters) == 0


async def test_uncommitted_message_stays_queued(
    hub_side: HubSide, tmp_path: Path
) -> None:
    await hub_side.publish_batch(batch_of([live("a", 1)]))
    with FailingStore(tmp_path / "store.sqlite3", failures=1_000) as store:
        consumer = make_consumer(hub_side, store)
        await consumer.start()
        try:
            await wait_until(lambda: store.calls >= 2, "two failed commits")
        finally:
            await consumer.stop()

        assert store.count("items") == 0
    assert await hub_side.ready_count(hub_side.queue) == 1
    assert await hub_side.ready_count(hub_side.dead_letters) == 0


async def close_connection_on_broker(connection_name: str) -> None:
    """Close the named client connection through the management API."""
    async with httpx.AsyncClient(
        base_url=MANAGEMENT_URL, auth=("guest", "guest")
    ) as client:
        for _ in range(100):
            response = await client.get("/api/connections")
            response.raise_for_status()
            names = [
                connection["name"]
                for connection in response.json()
                if connection.get("client_properties", {}).get("connection_name")
                == connection_name
            ]
            if names:
                break
            # The management plugin lists a new connection after a short delay.
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"connection {connection_name!r} not listed")
        for name in names:
            deleted = await client.delete(f"/api/connections/{quote(name, safe='')}")
            assert deleted.status_code == 204, deleted.text


async def test_consumer_resumes_after_lost_connection(
    hub_side: HubSide, store: LocalStore
) -> None:
    consumer = AmqpConsumer(
        f"{AMQP_URL}?reconnect_interval=0.2", hub_side.store_id, ["items"], store
    )
    await consumer.start()
    try:
        await hub_side.publish_batch(batch_of([live("a", 1)]))
        await wait_until(lambda: store.count("items") == 1, "the first batch")

        await close_connection_on_broker(consumer.connection_name)
        await hub_side.publish_batch(batch_of([live("b", 2)]))
        await wait_until(lambda: store.count("items") == 2, "a batch after reconnect")
    finally:
        await consumer.stop()

    assert await hub_side.ready_count(hub_side.queue) == 0


async def test_consumer_resumes_after_queue_recreated(
    hub_side: HubSide, store: LocalStore
) -> None:
    consumer = AmqpConsumer(
        f"{AMQP_URL}?reconnect_interval=0.2", hub_side.store_id, ["items"], store
    )
    await consumer.start()
    try:
        await hub_side.publish_batch(batch_of([live("a", 1)]))
        await wait_until(lambda: store.count("items") == 1, "the first batch")

        # Deleting the queue makes the broker cancel the consumer.
        await hub_side.queue.delete(if_unused=False, if_empty=False)
        hub_side.queue = await hub_side.channel.declare_queue(
            hub_side.queue.name, durable=True, arguments=hub_side.queue.arguments
        )
        await hub_side.publish_batch(batch_of([live("b", 2)]))
        await wait_until(lambda: store.count("items") == 2, "a batch after recreate")
    finally:
        await consumer.stop()

    assert await hub_side.ready_count(hub_side.queue) == 0


async def test_agent_catches_up_then_consumes(
    hub_side: HubSide, tmp_path: Path
) -> None:
    fake_hub = FakeHub(hub_side.store_id)
    fake_hub.add(live("a", 1), live("b", 2), live("c", 3))
    await hub_side.publish_batch(batch_of([live("b", 2)]))
    await hub_side.publish_batch(batch_of([tombstone("c", 4), live("d", 5)]))

    async with BackgroundServer(fake_hub.app) as server:
        settings = AgentSettings(
            store_id=hub_side.store_id,
            mode="amqp",
            hub_url=server.url,
            amqp_url=AMQP_URL,
            database=tmp_path / "store.sqlite3",
        )
        agent = StoreAgent(settings)
        await agent.start()
        try:
            store = agent.local_store
            assert store.applied_revision("items") >= 3
            await wait_until(lambda: store.applied_revision("items") == 5, "revision 5")
            assert set(store.live_documents("items")) == {"a", "b", "d"}
        finally:
            await agent.stop()

    assert fake_hub.requests[0]["after"] == 0
    assert await hub_side.ready_count(hub_side.queue) == 0


async def test_agent_start_fails_without_queue(tmp_path: Path) -> None:
    settings = AgentSettings(
        store_id=f"t{uuid.uuid4().hex[:8]}",
        hub_url=None,
        amqp_url=AMQP_URL,
        database=tmp_path / "store.sqlite3",
    )
    agent = StoreAgent(settings)

    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        await agent.start()

    with pytest.raises(RuntimeError, match="not started"):
        _ = agent.local_store
