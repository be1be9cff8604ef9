"""The backlog check: stop feeding store queues that grow too long.

A store that is offline for long would collect every change in its queue,
up to the queue's maximum length. Before publishing an entity, the check
reads the depth of every store's queue. A queue holding
``store_backlog_limit`` messages or more is unbound from the changes
exchange and purged, and the store is marked as catching up; its agent
learns that from the heartbeat answer and pulls from its applied revision.
Pulling returns only the latest version of each document, so a document
that changed a hundred times while the store was away arrives once.

Once a heartbeat reports that the store applied everything up to the
unbinding, the check binds the queue again. ``hub.delivery`` describes the
states a store goes through.
"""

import logging
from dataclasses import dataclass, field

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import ChannelNotFoundEntity

from contracts import binding_keys, queue_name
from hub.broker import declare_store_queue
from hub.delivery import DeliveryState
from hub.repository import Repository
from hub.settings import Settings
from hub.stores import StoreRecord, StoreRegistry

__all__ = ["BacklogGuard", "BacklogReport"]

logger = logging.getLogger(__name__)


@dataclass
class BacklogReport:
    """Stores whose queue of one entity one check unbound or bound again."""

    entity: str
    unbound: list[str] = field(default_factory=list)
    rebound: list[str] = field(default_factory=list)
    depths: dict[str, int] = field(default_factory=dict)


class BacklogGuard:
    """Checks store queue depths before the publisher feeds them.

    The guard opens channels of its own on ``connection``, because a passive
    declare of a missing queue closes the channel it runs on.
    """

    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        connection: AbstractConnection,
        exchange: AbstractExchange,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.connection = connection
        self.exchange = exchange
        self.delivery = DeliveryState(repository)
        self.stores = StoreRegistry(repository)

    async def check(self, entity: str, *, depths: bool = True) -> BacklogReport:
        """Unbind the queues over the backlog limit, and bind caught-up ones again.

        With ``depths`` False only caught-up queues are bound again: reading
        the depth of every store's queue takes one broker round trip per
        store, and a queue grows only when something is published.

        Raises the broker's connection errors and RepositoryUnavailableError;
        a queue that does not exist is logged and skipped.
        """
        report = BacklogReport(entity)
        stores = await self.stores.list()
        states = await self.delivery.states()
        channel = await self.connection.channel()
        try:
            for store in stores:
                state = states.get(store.store_id, {})
                mark = state.get("catching_up", {}).get(entity)
                if mark is None:
                    if depths:
                        channel = await self._check_depth(
                            channel, store, entity, report
                        )
                elif mark.get("rebound_at") is None:
                    applied = state.get("heartbeat", {}).get("applied", {})
                    if int(applied.get(entity, 0)) >= int(mark["since"]):
                        await self._rebind(channel, store, entity, int(mark["since"]))
                        report.rebound.append(store.store_id)
        finally:
            if not channel.is_closed:
                await channel.close()
        return report

    async def _check_depth(
        self,
        channel: AbstractChannel,
        store: StoreRecord,
        entity: str,
        report: BacklogReport,
    ) -> AbstractChannel:
        name = queue_name(store.store_id, entity)
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            # A store registered before its entity existed has no queue for
            # it; it still receives the entity by pulling.
            logger.warning(
                "store %s has no queue %s; skipped by the backlog check",
                store.store_id,
                name,
            )
            return await self.connection.channel()

        depth = queue.declaration_result.message_count or 0
        report.depths[store.store_id] = depth
        if depth < self.settings.store_backlog_limit:
            return channel

        for key in binding_keys(entity, store.store_id, store.groups):
            await queue.unbind(self.exchange, routing_key=key)
        await queue.purge()
        # Every message that reached the queue before the unbind carries a
        # revision up to this one, so a store that applied it missed nothing.
        since = await self.repository.committed_revision(entity)
        await self.delivery.mark_catching_up(store.store_id, entity, since)
        report.unbound.append(store.store_id)
        logger.warning(
            "store %s: queue %s held %d messages (limit %d); unbound and purged,"
            " the store catches up by pulling from revision %d on",
            store.store_id,
            name,
            depth,
            self.settings.store_backlog_limit,
            since,
        )
        return channel

    async def _rebind(
        self, channel: AbstractChannel, store: StoreRecord, entity: str, since: int
    ) -> None:
        await declare_store_queue(
            channel,
            self.exchange,
            self.settings,
            store_id=store.store_id,
            entity=entity,
            groups=store.groups,
        )
        # Changes above this revision reach the queue; the store pulls up to
        # it before the catch-up counts as finished.
        rebound_at = await self.repository.committed_revision(entity)
        await self.delivery.mark_rebound(store.store_id, entity, since, rebound_at)
        logger.info(
            "store %s: queue %s bound again at revision %d after catching up",
            store.store_id,
            queue_name(store.store_id, entity),
            rebound_at,
        )
