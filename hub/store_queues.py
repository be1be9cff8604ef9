"""A store's queues on the broker: declare, rebind after a group change, delete."""

import logging

from aio_pika.abc import AbstractChannel, AbstractExchange

from contracts import ENTITIES, binding_keys, queue_name
from hub.broker import declare_dead_letter_queue, declare_store_queue
from hub.settings import Settings

__all__ = ["declare_store_queues", "delete_store_queues", "rebind_store_queues"]

logger = logging.getLogger(__name__)


async def declare_store_queues(
    channel: AbstractChannel,
    exchange: AbstractExchange,
    settings: Settings,
    store_id: str,
    groups: list[str],
) -> list[str]:
    """Declare and bind the store's queue of every entity; return their names.

    Safe to repeat: declaring and binding again change nothing.
    """
    # The entities' queues share one dead-letter queue, declared once here.
    await declare_dead_letter_queue(channel, settings, store_id)
    names = []
    for entity in ENTITIES:
        queue = await declare_store_queue(
            channel,
            exchange,
            settings,
            store_id=store_id,
            entity=entity,
            groups=groups,
            with_dead_letter_queue=False,
        )
        names.append(queue.name)
    return names


async def rebind_store_queues(
    channel: AbstractChannel,
    exchange: AbstractExchange,
    settings: Settings,
    store_id: str,
    old_groups: list[str],
    new_groups: list[str],
) -> None:
    """Bind the store's queues to ``new_groups`` and unbind the other old groups.

    The new bindings are made first, so no change of a kept scope is missed
    in between.
    """
    await declare_store_queues(channel, exchange, settings, store_id, new_groups)
    for entity in ENTITIES:
        removed = set(binding_keys(entity, store_id, old_groups)) - set(
            binding_keys(entity, store_id, new_groups)
        )
        queue = await channel.get_queue(queue_name(store_id, entity))
        for key in sorted(removed):
            await queue.unbind(exchange, routing_key=key)
            logger.debug(
                "store %s: queue %s unbound from %s", store_id, queue.name, key
            )


async def delete_store_queues(channel: AbstractChannel, names: list[str]) -> None:
    """Delete the queues ``names`` with the messages in them.

    A queue that does not exist counts as deleted (RabbitMQ 3.x replies to
    queue.delete of a missing queue with delete-ok).
    """
    for name in names:
        await channel.queue_delete(name)
        logger.debug("queue %s deleted", name)
