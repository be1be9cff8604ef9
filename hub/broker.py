"""The broker's topology: the changes exchange and the stores' queues."""

import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from contracts import binding_keys, queue_name
from hub.settings import Settings

__all__ = ["declare_changes_exchange", "declare_store_queue", "queue_arguments"]

logger = logging.getLogger(__name__)


async def declare_changes_exchange(
    channel: AbstractChannel, name: str
) -> AbstractExchange:
    """Declare the durable topic exchange that carries every change."""
    return await channel.declare_exchange(
        name, aio_pika.ExchangeType.TOPIC, durable=True
    )


def queue_arguments(settings: Settings) -> dict[str, Any]:
    """Return the arguments every store queue is declared with."""
    return {"x-queue-type": settings.queue_type}


async def declare_store_queue(
    channel: AbstractChannel,
    exchange: AbstractExchange,
    settings: Settings,
    *,
    store_id: str,
    entity: str,
    groups: list[str],
) -> AbstractQueue:
    """Declare a store's durable queue for ``entity`` and bind it to its scopes.

    Safe to call again: declaring an existing queue with the same arguments
    and binding it again change nothing.
    """
    queue = await channel.declare_queue(
        queue_name(store_id, entity), durable=True, arguments=queue_arguments(settings)
    )
    for key in binding_keys(entity, store_id, groups):
        await queue.bind(exchange, routing_key=key)
    logger.debug(
        "queue %s bound to %s", queue.name, binding_keys(entity, store_id, groups)
    )
    return queue
