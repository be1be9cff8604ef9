"""The outbox publisher against the real broker and repository."""

import json
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue

from connectors.publisher import Publisher
from contracts import (
    HEADER_ENTITY,
    HEADER_REV_FROM,
    HEADER_REV_TO,
    SCOPE_ALL,
    ChangeBatch,
    document_hash,
    store_scope,
)
from hub.broker import declare_store_queue
from hub.repository import PendingChange, Repository
from hub.runtime import Broker
from hub.settings import Settings
from tests.conftest import unique

pytestmark = pytest.mark.integration


def _changes(
    count: int, scope: str = SCOPE_ALL, prefix: str = "k"
) -> list[PendingChange]:
    result = []
    for i in range(count):
        data = {"ref": f"{prefix}{i:05}", "name": "x" * 50}
        result.append(
            PendingChange(f"{prefix}{i:05}", document_hash(data), scope, data)
        )
    return result


async def _store_queue(
    broker: Broker,
    settings: Settings,
    cleanup: list[str],
    groups: list[str] | None = None,
) -> tuple[str, AbstractQueue]:
    store_id = unique("s")
    queue = await declare_store_queue(
        broker.channel,
        broker.exchange,
        settings,
        store_id=store_id,
        entity="items",
        groups=groups or [],
    )
    cleanup.append(queue.name)
    return store_id, queue


async def _drain(queue: AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    messages = []
    while True:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            return messages
        messages.append(message)


def _revisions(messages: list[Any]) -> list[int]:
    return [doc["rev"] for m in messages for doc in json.loads(m.body)["documents"]]


async def test_publishes_in_bounded_batches(
    repository: Repository,
    broker: Broker,
    settings: Settings,
    cleanup_queues: list[str],
) -> None:
    _, queue = await _store_queue(broker, settings, cleanup_queues)
    await repository.write_changes("items", _changes(1203))
    publisher = Publisher(repository, broker.exchange, batch_size=500)

    report = await publisher.publish_pending("items")

    messages = await _drain(queue)
    assert report.documents == 1203
    assert report.watermark == 1203
    assert await repository.published_revision("items") == 1203
    assert _revisions(messages) == list(range(1, 1204))
    assert max(len(json.loads(m.body)["documents"]) for m in messages) == 500
    first = messages[0]
    batch = ChangeBatch.model_validate_json(first.body)
    assert first.headers[HEADER_ENTITY] == "items"
    assert first.headers[HEADER_REV_FROM] == batch.rev_from == 1
    assert first.headers[HEADER_REV_TO] == batch.rev_to == 500
    assert first.message_id == "items:all:1-500"
    assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_batches_bounded_by_bytes(
    repository: Repository,
    broker: Broker,
    settings: Settings,
    cleanup_queues: list[str],
) -> None:
    _, queue = await _store_queue(broker, settings, cleanup_queues)
    await repository.write_changes("items", _changes(100))
    publisher = Publisher(repository, broker.exchange, batch_size=500, batch_bytes=4096)

    await publisher.publish_pending("items")

    messages = await _drain(queue)
    assert len(messages) > 1
    assert all(len(m.body) <= 4096 + 200 for m in messages)
    assert _revisions(messages) == list(range(1, 101))


async def test_second_call_publishes_nothing(
    repository: Repository,
    broker: Broker,
    settings: Settings,
    cleanup_queues: list[str],
) -> None:
    _, queue = await _store_queue(broker, settings, cleanup_queues)
    await repository.write_changes("items", _changes(10))
    publisher = Publisher(repository, broker.exchange)
    await publisher.publish_pending("items")
    await _drain(queue)

    again = await publisher.publish_pending("items")

    assert again.documents == 0
    assert await _drain(queue) == []


async def test_uncommitted_writes_are_not_published(
    repository: Repository,
    broker: Broker,
    settings: Settings,
    cleanup_queues: list[str],
) -> None:
    _, queue = await _store_queue(broker, settings, cleanup_queues)
    await repository.write_changes("items", _changes(3))
    # A writer that reserved revisions 4-5 and died before committing them.
    await repository.db.revisions.update_one(
        {"_id": "items"}, {"$inc": {"reserved": 2}}
    )
    half = _changes(1, prefix="half")[0]
    await repository.db.documents.insert_one(
        {
            "_id": "items:half",
            "entity": "items",
            "key": half.key,
            "rev": 4,
            "hash": half.hash,
            "deleted": False,
            "scope": SCOPE_ALL,
            "data": half.data,
        }
    )
    publisher = Publisher(repository, broker.exchange)

    await publisher.publish_pending("items")
    assert _revisions(await _drain(queue)) == [1, 2, 3]

    await repository.write_changes("items", _changes(1, prefix="next"))
    await publisher.publish_pending("items")
    assert _revisions(await _drain(queue)) == [4, 6]
    assert await repository.published_revision("items") == 6


async def test_restart_resends_from_watermark(
    repository: Repository,
    broker: Broker,
    settings: Settings,
    cleanup_queues: list[str],
) -> None:
    _, queue = await _store_queue(broker, settings, cleanup_queues)
    await repository.write_changes("items", _changes(5))
    await Publisher(repository, broker.exchange).publish_pending("items")
    await repository.write_changes("items", _changes(5, prefix="later"))
    # The process that wrote the second run died before publishing it.

    report = await Publisher(repository, broker.exchange).publish_pending("items")

    assert report.documents == 5
    assert _revisions(await _drain(queue)) == list(range(1, 11))


async def test_routing_follows_scope(
    repository: Repository,
    broker: Broker,
    settings: Settings,
    cleanup_queues: list[str],
) -> None:
    store_a, queue_a = await _store_queue(broker, settings, cleanup_queues, ["msk"])
    _, queue_b = await _store_queue(broker, settings, cleanup_queues, ["spb"])
    changes = [
        *_changes(1, prefix="all"),
        *_changes(1, scope="group.msk", prefix="msk"),
        *_changes(1, scope=store_scope(store_a), prefix="own"),
    ]
    await repository.write_changes("items", changes)

    await Publisher(repository, broker.exchange).publish_pending("items")

    keys_a = {
        d["key"] for m in await _drain(queue_a) for d in json.loads(m.body)["documents"]
    }
    keys_b = {
        d["key"] for m in await _drain(queue_b) for d in json.loads(m.body)["documents"]
    }
    assert keys_a == {"all00000", "msk00000", "own00000"}
    assert keys_b == {"all00000"}
