"""Consume a store's queues and apply each batch to the local copy.

The hub declares the queue ``store.<store id>.<entity>`` and the agent only
consumes it. For each message the agent parses the ChangeBatch, commits it to
the local store and then acknowledges it, so a crash before the commit leaves
the message in the queue. Messages of one queue are handled one at a time, in
delivery order.

What happens to a message is an AckOutcome:

- ACK: the batch is committed, or every document in it was stale;
- REJECT: the message breaks the contract. It is rejected without requeue, so
  it goes to the queue's dead-letter exchange if the hub set one, and it is
  never retried;
- REQUEUE: the local commit failed. The message is returned to the queue
  after a short delay and delivered again.
"""

import asyncio
import enum
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity

from contracts import queue_name
from store_agent.local_store import LocalStore
from store_agent.validation import InvalidChangesError, parse_batch

__all__ = ["AckOutcome", "AmqpConsumer", "QueueConsumer"]

logger = logging.getLogger(__name__)

# How many recent message ids a queue consumer keeps to notice duplicates.
_SEEN_IDS_LIMIT = 1024


class AckOutcome(enum.Enum):
    """Settlement of one message: ack, reject without requeue, or requeue."""

    ACK = "ack"
    REJECT = "reject"
    REQUEUE = "requeue"


RejectHook = Callable[[str, str, str], Awaitable[None]]
"""Called with the entity, message id and reason of a rejected message."""


class QueueConsumer:
    """Consumer of one store's queue for one entity.

    ``handle`` decides the outcome of a message and ``start``/``stop`` attach
    it to a channel.
    """

    def __init__(
        self,
        store_id: str,
        entity: str,
        local_store: LocalStore,
        requeue_delay_seconds: float = 1.0,
        on_reject: RejectHook | None = None,
    ) -> None:
        self.store_id = store_id
        self._on_reject = on_reject
        self.entity = entity
        self.queue_name = queue_name(store_id, entity)
        self._local_store = local_store
        self._requeue_delay_seconds = requeue_delay_seconds
        self._lock = asyncio.Lock()
        self._seen_ids: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None

    async def start(self, channel: AbstractChannel) -> None:
        """Declare the queue passively and start consuming it.

        Raises aio_pika's ChannelNotFoundEntity if the hub has not declared the
        queue yet.
        """
        try:
            self._queue = await channel.declare_queue(self.queue_name, passive=True)
        except ChannelNotFoundEntity:
            logger.error(
                "store %s: queue %s not found; the hub declares it when the store"
                " is registered",
                self.store_id,
                self.queue_name,
            )
            raise
        self._consumer_tag = await self._queue.consume(self._on_message)
        logger.info("store %s: consuming queue %s", self.store_id, self.queue_name)

    async def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop consuming, and wait for the message being handled to settle.

        Messages delivered but not yet handled stay unacknowledged, and the
        broker returns them to the queue when the channel closes.
        """
        self._stopping = True
        if self._queue is None:
            return
        if self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag, timeout=timeout_seconds)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as error:
                # The channel is gone or slow; closing it ends the consumer too.
                logger.warning(
                    "store %s: could not cancel the consumer of %s (%s: %s);"
                    " closing the channel instead",
                    self.store_id,
                    self.queue_name,
                    type(error).__name__,
                    error,
                )
            self._consumer_tag = None

        if self._in_flight:
            _, pending = await asyncio.wait(
                list(self._in_flight), timeout=timeout_seconds
            )
            if pending:
                logger.warning(
                    "store %s: %d messages of %s still in progress after %.0f s;"
                    " cancelling them, so the broker delivers them again",
                    self.store_id,
                    len(pending),
                    self.queue_name,
                    timeout_seconds,
                )
            for task in pending:
                task.cancel()
        self._queue = None
        logger.info("store %s: stopped consuming %s", self.store_id, self.queue_name)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            async with self._lock:
                if self._stopping:
                    return
                outcome = await self.handle(message)
                await self._settle(message, outcome)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def handle(self, message: AbstractIncomingMessage) -> AckOutcome:
        """Parse and commit one message, and return how to settle it.

        Returns REJECT for a message that breaks the contract, and REQUEUE,
        after the requeue delay, when the commit fails. Both are logged, and
        neither raises.
        """
        message_id = message.message_id or "(no message id)"
        self._note_duplicate(message)

        try:
            batch = parse_batch(message.body, self.entity)
        except InvalidChangesError as error:
            logger.error(
                "store %s: rejected message %s from %s without requeue: %s",
                self.store_id,
                message_id,
                self.queue_name,
                error,
            )
            await self._report_reject(message_id, str(error))
            return AckOutcome.REJECT

        try:
            result = await asyncio.to_thread(
                self._local_store.apply, self.entity, batch.documents
            )
        except (sqlite3.Error, OSError) as error:
            return await self._requeue_later(message_id, error)
        except Exception as error:
            # The batch passed every check, so the error is most likely in
            # the agent. Requeueing keeps the batch instead of losing it.
            logger.exception(
                "store %s: unexpected error applying message %s",
                self.store_id,
                message_id,
            )
            return await self._requeue_later(message_id, error)

        logger.info(
            "store %s: applied message %s (%s rev %d-%d): %d applied, %d stale",
            self.store_id,
            message_id,
            self.entity,
            batch.rev_from,
            batch.rev_to,
            result.applied,
            result.skipped_stale,
        )
        return AckOutcome.ACK

    async def _report_reject(self, message_id: str, reason: str) -> None:
        # Awaited before the message is settled and before the next one is
        # handled, so a catch-up pull fills the rejected batch's revisions
        # before later batches move the applied revision past them.
        if self._on_reject is None:
            return
        try:
            await self._on_reject(self.entity, message_id, reason)
        except Exception:
            # The rejection itself must go on; the hook's failure is logged.
            logger.exception(
                "store %s: handling the rejection of %s failed",
                self.store_id,
                message_id,
            )

    async def _requeue_later(self, message_id: str, error: Exception) -> AckOutcome:
        logger.error(
            "store %s: commit of message %s from %s failed (%s: %s);"
            " requeueing it in %.1f s",
            self.store_id,
            message_id,
            self.queue_name,
            type(error).__name__,
            error,
            self._requeue_delay_seconds,
        )
        # The delay keeps a broken disk from turning into a redelivery storm.
        await asyncio.sleep(self._requeue_delay_seconds)
        return AckOutcome.REQUEUE

    def _note_duplicate(self, message: AbstractIncomingMessage) -> None:
        message_id = message.message_id
        seen = message_id is not None and message_id in self._seen_ids
        if message.redelivered or seen:
            logger.debug(
                "store %s: message %s seen before (redelivered flag %s);"
                " stale documents will be skipped",
                self.store_id,
                message_id,
                message.redelivered,
            )

        if message_id is None:
            return
        self._seen_ids[message_id] = None
        self._seen_ids.move_to_end(message_id)
        while len(self._seen_ids) > _SEEN_IDS_LIMIT:
            self._seen_ids.popitem(last=False)

    async def _settle(
        self, message: AbstractIncomingMessage, outcome: AckOutcome
    ) -> None:
        try:
            if outcome is AckOutcome.ACK:
                await message.ack()
            elif outcome is AckOutcome.REJECT:
                await message.reject(requeue=False)
            else:
                await message.nack(requeue=True)
        except CONNECTION_EXCEPTIONS as error:
            # The channel is closed or closing, and the broker returns every
            # unsettled message of a closed channel to the queue. The
            # redelivery is harmless because of the rev check.
            logger.warning(
                "store %s: could not %s message %s (%s: %s); the broker will"
                " deliver it again",
                self.store_id,
                outcome.value,
                message.message_id,
                type(error).__name__,
                error,
            )


class AmqpConsumer:
    """One robust RabbitMQ connection that consumes a store's queues.

    Each entity gets its own channel with ``prefetch`` unacknowledged
    messages. aio-pika's robust connection resumes consuming after a lost
    connection, and after the broker cancels the consumer because the queue
    was deleted and declared again. The tests check both with aio-pika 10.2.
    ``on_reconnect`` is called, without arguments, each time a lost
    connection is restored.
    """

    def __init__(
        self,
        amqp_url: str,
        store_id: str,
        entities: list[str],
        local_store: LocalStore,
        prefetch: int = 8,
        requeue_delay_seconds: float = 1.0,
        on_reconnect: Callable[[], None] | None = None,
        on_reject: RejectHook | None = None,
    ) -> None:
        self._amqp_url = amqp_url
        self._on_reconnect = on_reconnect
        # Shown in the RabbitMQ management UI.
        self.connection_name = f"retail-hub-agent {store_id}"
        self._prefetch = prefetch
        self._connection: AbstractRobustConnection | None = None
        self.consumers = [
            QueueConsumer(
                store_id, entity, local_store, requeue_delay_seconds, on_reject
            )
            for entity in entities
        ]

    async def start(self) -> None:
        """Connect and start consuming every queue.

        Raises aio_pika's connection errors when RabbitMQ cannot be reached,
        and ChannelNotFoundEntity when a queue does not exist. Nothing stays
        open after an error.
        """
        self._connection = await aio_pika.connect_robust(
            self._amqp_url, client_properties={"connection_name": self.connection_name}
        )
        if self._on_reconnect is not None:
            self._connection.reconnect_callbacks.add(self._reconnected)
        try:
            for consumer in self.consumers:
                channel = await self._connection.channel()
                await channel.set_qos(prefetch_count=self._prefetch)
                await consumer.start(channel)
        except BaseException:
            await self.stop()
            raise

    def _reconnected(self, _connection: Any) -> None:
        if self._on_reconnect is not None:
            self._on_reconnect()

    async def stop(self) -> None:
        """Stop every consumer and close the connection; safe to call twice."""
        for consumer in self.consumers:
            await consumer.stop()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
