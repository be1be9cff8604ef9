"""The broker's topology: the changes exchange and the stores' queues.

Every store queue is bounded by ``queue_max_length`` messages. Beyond it the
broker drops the oldest message (``drop-head``) and dead-letters it, like a
message the store's agent rejects, through the direct exchange
``dead_letter_exchange`` into the store's queue ``store.<id>.dead-letter``.
``drop-head`` rather than ``reject-publish`` because with publisher confirms
one full queue would make the broker reject every publish to the exchange,
and every other store would wait for it. The publisher's backlog check stops
feeding a queue well before it is full (``store_backlog_limit``).
"""

import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from aio_pika.exceptions import ChannelPreconditionFailed

from contracts import binding_keys, queue_name, validate_name
from hub.settings import Settings

__all__ = [
    "dead_letter_queue_name",
    "declare_changes_exchange",
    "declare_dead_letter_queue",
    "declare_store_queue",
    "queue_arguments",
]

logger = logging.getLogger(__name__)


async def declare_changes_exchange(
    channel: AbstractChannel, name: str
) -> AbstractExchange:
    """Declare the durable topic exchange that carries every change."""
    return await channel.declare_exchange(
        name, aio_pika.ExchangeType.TOPIC, durable=True
    )


def dead_letter_queue_name(store_id: str) -> str:
    """Return the name of the queue of a store's dead-lettered messages."""
    return f"store.{validate_name('store', store_id)}.dead-letter"


def queue_arguments(settings: Settings, store_id: str) -> dict[str, Any]:
    """Return the arguments a store's queues are declared with.

    NOTE: RabbitMQ refuses to declare an existing queue with other arguments,
    so changing these settings needs the store queues deleted and declared
    again (or a policy set by the operator instead).
    """
    return {
        "x-queue-type": settings.queue_type,
        "x-max-length": settings.queue_max_length,
        "x-overflow": "drop-head",
        "x-dead-letter-exchange": settings.dead_letter_exchange,
        # Dead-lettered messages of every entity go to the store's one queue.
        "x-dead-letter-routing-key": store_id,
    }


async def declare_dead_letter_queue(
    channel: AbstractChannel, settings: Settings, store_id: str
) -> AbstractQueue:
    """Declare the dead-letter exchange and the store's dead-letter queue."""
    exchange = await channel.declare_exchange(
        settings.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    queue = await channel.declare_queue(
        dead_letter_queue_name(store_id),
        durable=True,
        arguments={"x-queue-type": settings.queue_type},
    )
    await queue.bind(exchange, routing_key=store_id)
    return queue


async def declare_store_queue(
    channel: AbstractChannel,
    exchange: AbstractExchange,
    settings: Settings,
    *,
    store_id: str,
    entity: str,
    groups: list[str],
    with_dead_letter_queue: bool = True,
) -> AbstractQueue:
    """Declare a store's durable queue for ``entity`` and bind it to its scopes.

    The store's dead-letter queue is declared first, unless
    ``with_dead_letter_queue`` is False because the caller declared it. Safe
    to call again: declaring existing queues with the same arguments and
    binding them again change nothing. A queue that exists with other
    arguments is kept as it is, with a warning, and bound.
    """
    if with_dead_letter_queue:
        await declare_dead_letter_queue(channel, settings, store_id)
    name = queue_name(store_id, entity)
    try:
        queue = await channel.declare_queue(
            name, durable=True, arguments=queue_arguments(settings, store_id)
        )
    except ChannelPreconditionFailed as error:
        # The queue exists with other arguments, for example from a version
        # without length limits. RabbitMQ closed the channel; the queue
        # keeps working with its old arguments.
        logger.warning(
            "queue %s exists with other arguments (%s); it keeps them. Delete"
            " the queue and register store %s again to apply the length limit"
            " and dead-lettering",
            name,
            error,
            store_id,
        )
        await channel.reopen()
        queue = await channel.declare_queue(name, passive=True)
    for key in binding_keys(entity, store_id, groups):
        await queue.bind(exchange, routing_key=key)
    logger.debug(
        "queue %s bound to %s", queue.name, binding_keys(entity, store_id, groups)
    )
    return queue
