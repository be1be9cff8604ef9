"""Store queues on the real broker: length limit, dead-lettering, old queues."""

import logging

import aio_pika
import pytest

from contracts import queue_name
from hub.broker import dead_letter_queue_name, declare_store_queue
from hub.runtime import Broker
from hub.settings import Settings
from tests.conftest import unique

pytestmark = pytest.mark.integration


async def test_overflow_drops_oldest_to_dead_letters(
    settings: Settings, broker: Broker, cleanup_queues: list[str]
) -> None:
    settings = settings.model_copy(update={"queue_max_length": 3})
    store_id = unique("t")
    queue = await declare_store_queue(
        broker.channel,
        broker.exchange,
        settings,
        store_id=store_id,
        entity="items",
        groups=[],
    )
    cleanup_queues.append(queue.name)

    for number in range(5):
        message = aio_pika.Message(b"{}", message_id=f"m{number}")
        await broker.exchange.publish(message, routing_key="items.all")

    dead = await broker.channel.declare_queue(
        dead_letter_queue_name(store_id), passive=True
    )
    kept = await broker.channel.declare_queue(queue.name, passive=True)
    assert kept.declaration_result.message_count == 3
    assert dead.declaration_result.message_count == 2
    first = await dead.get(no_ack=True)
    assert first.message_id == "m0"
    assert first.headers["x-first-death-reason"] == "maxlen"


async def test_queue_with_old_arguments_is_kept(
    settings: Settings,
    broker: Broker,
    cleanup_queues: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store_id = unique("t")
    name = queue_name(store_id, "items")
    cleanup_queues.append(name)
    await broker.channel.declare_queue(
        name, durable=True, arguments={"x-queue-type": "classic"}
    )
    caplog.set_level(logging.WARNING, logger="hub.broker")

    queue = await declare_store_queue(
        broker.channel,
        broker.exchange,
        settings,
        store_id=store_id,
        entity="items",
        groups=[],
    )
    await broker.exchange.publish(aio_pika.Message(b"{}"), routing_key="items.all")

    declared = await broker.channel.declare_queue(queue.name, passive=True)
    assert declared.declaration_result.message_count == 1
    assert "exists with other arguments" in caplog.records[0].getMessage()
