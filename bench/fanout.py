"""Fan-out benchmark: the outbox publisher sending to many store queues."""

import asyncio
import logging
import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractQueue

from bench.common import (
    BenchResult,
    Sizes,
    Stopwatch,
    bench_settings,
    generate_items,
    unique_name,
)
from connectors.publisher import Publisher
from contracts import document_hash
from hub.broker import (
    dead_letter_queue_name,
    declare_changes_exchange,
    declare_store_queue,
)
from hub.repository import PendingChange, Repository

__all__ = ["run_fanout"]

logger = logging.getLogger("bench")

ENTITY = "items"
BATCH_SIZE = 500
# Publisher.publish_pending reads 5000 documents at a time and sends their
# batches concurrently, so the baseline sends 10 messages at a time too.
# NOTE: change this if the publisher's read chunk changes.
READ_CHUNK = 5000
CONCURRENT_MESSAGES = READ_CHUNK // BATCH_SIZE


class RecordingExchange:
    """An exchange that records each published body and routing key, then sends it."""

    def __init__(self, exchange: AbstractExchange) -> None:
        self.exchange = exchange
        self.sent: list[tuple[bytes, str]] = []

    async def publish(self, message: aio_pika.Message, routing_key: str) -> Any:
        self.sent.append((message.body, routing_key))
        return await self.exchange.publish(message, routing_key=routing_key)


async def _publish_raw(
    exchange: AbstractExchange, sent: list[tuple[bytes, str]]
) -> None:
    for start in range(0, len(sent), CONCURRENT_MESSAGES):
        group = sent[start : start + CONCURRENT_MESSAGES]
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=key,
                )
                for body, key in group
            )
        )


async def _read_like_publisher(repository: Repository) -> None:
    """Read every committed document as the publisher does, without sending."""
    committed = await repository.committed_revision(ENTITY)
    chunks = repository.iter_changes_with_scope(ENTITY, 0, READ_CHUNK, up_to=committed)
    async for _ in chunks:
        pass


async def _purge(queues: list[AbstractQueue]) -> None:
    for queue in queues:
        await queue.purge()


async def run_fanout(sizes: Sizes) -> BenchResult:
    """Time Publisher.publish_pending to S queues against raw confirmed publishes."""
    _, mapped = generate_items(sizes.fanout_documents)
    changes = [
        PendingChange(key, document_hash(data), scope, data, replaces=False)
        for key, (scope, data) in sorted(mapped.documents.items())
    ]
    documents = len(changes)
    stores = sizes.fanout_stores
    settings = bench_settings("fanout")
    repository = Repository.from_settings(settings)
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    queue_names: list[str] = []
    try:
        await repository.ensure_indexes()
        await repository.write_changes(ENTITY, changes)
        channel = await connection.channel(publisher_confirms=True)
        exchange = await declare_changes_exchange(channel, settings.exchange)

        queues: list[AbstractQueue] = []
        deadline = time.monotonic() + sizes.time_limit_seconds
        with Stopwatch() as declaring:
            run_id = unique_name("")[:6]
            for number in range(stores):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"declared only {number} of {stores} queues in "
                        f"{sizes.time_limit_seconds}s"
                    )
                store_id = f"bench{run_id}-{number:05}"
                # declare_store_queue declares the store's dead-letter queue too.
                queue_names.append(dead_letter_queue_name(store_id))
                queue = await declare_store_queue(
                    channel,
                    exchange,
                    settings,
                    store_id=store_id,
                    entity=ENTITY,
                    groups=[],
                )
                queue_names.append(queue.name)
                queues.append(queue)
        logger.info("fanout: declared %d queues in %.1fs", stores, declaring.seconds)

        recorder = RecordingExchange(exchange)
        publisher = Publisher(repository, recorder, batch_size=BATCH_SIZE)  # type: ignore[arg-type]
        with Stopwatch() as ours:
            report = await publisher.publish_pending(ENTITY)
        logger.info(
            "fanout: published %d documents in %d messages to %d queues in %.1fs",
            report.documents,
            report.messages,
            stores,
            ours.seconds,
        )
        await _purge(queues)

        with Stopwatch() as baseline:
            await _publish_raw(exchange, recorder.sent)
        logger.info(
            "fanout: baseline published %d messages in %.1fs",
            len(recorder.sent),
            baseline.seconds,
        )
        await _purge(queues)

        # A publisher in another process than the writer, or one restarted
        # after a crash, reads the documents back from the repository.
        cold_repository = Repository.from_settings(settings)
        try:
            await cold_repository.db.revisions.update_one(
                {"_id": ENTITY}, {"$set": {"published": 0}}
            )
            cold_publisher = Publisher(cold_repository, exchange, batch_size=BATCH_SIZE)
            with Stopwatch() as cold:
                await cold_publisher.publish_pending(ENTITY)
            logger.info(
                "fanout: publish read back from the repository in %.1fs", cold.seconds
            )
            await _purge(queues)
            with Stopwatch() as reading:
                await _read_like_publisher(cold_repository)
        finally:
            await cold_repository.close()
        logger.info("fanout: the publisher's reads alone took %.1fs", reading.seconds)
    finally:
        await _delete_broker_names(
            connection,
            queue_names,
            [settings.exchange, settings.dead_letter_exchange],
        )
        await connection.close()
        await repository.client.drop_database(settings.mongo_database)
        await repository.close()

    deliveries = documents * stores
    return BenchResult(
        name="fanout",
        path="Publisher.publish_pending after write_changes in the same process,"
        " confirms, to every store queue",
        unit="documents delivered/s",
        ours=deliveries / ours.seconds,
        baseline=deliveries / baseline.seconds,
        target=0.7,
        comparison=">=",
        details={
            "documents": documents,
            "stores": stores,
            "messages": report.messages,
            "message_bytes": sum(len(body) for body, _ in recorder.sent),
            "ours_seconds": ours.seconds,
            "baseline_seconds": baseline.seconds,
            "declare_queues_seconds": declaring.seconds,
            "repository_read_seconds": reading.seconds,
            "read_back_publish_seconds": cold.seconds,
            "read_back_ratio": baseline.seconds / cold.seconds,
        },
    )


async def _delete_broker_names(
    connection: aio_pika.abc.AbstractConnection,
    queues: list[str],
    exchanges: list[str],
) -> None:
    # Deleting a queue or exchange that does not exist succeeds in RabbitMQ.
    channel = await connection.channel()
    for name in queues:
        await channel.queue_delete(name)
    for name in exchanges:
        await channel.exchange_delete(name)
    await channel.close()
    logger.info("fanout: deleted %d queues and exchanges %s", len(queues), exchanges)
