"""Open the servers a hub command needs: the repository and the broker."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from connectors.config import load_config
from connectors.engine import RunReport, run_connector
from connectors.odata import ODataClient
from connectors.publisher import Publisher, PublishReport
from connectors.registry import get_connector
from hub.backlog import BacklogGuard
from hub.broker import declare_changes_exchange
from hub.repository import Repository
from hub.settings import Settings

__all__ = ["Broker", "open_broker", "open_repository", "publish", "run_entity"]

logger = logging.getLogger(__name__)

_BROKER_CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass
class Broker:
    """An open AMQP connection with a confirming channel and the changes exchange."""

    connection: AbstractConnection
    channel: AbstractChannel
    exchange: AbstractExchange


@asynccontextmanager
async def open_repository(settings: Settings) -> AsyncIterator[Repository]:
    """Yield a repository with its indexes in place, and close it afterwards."""
    repository = Repository.from_settings(settings)
    try:
        await repository.ensure_indexes()
        yield repository
    finally:
        await repository.close()


@asynccontextmanager
async def open_broker(settings: Settings) -> AsyncIterator[Broker]:
    """Yield a broker connection whose channel waits for publisher confirms."""
    connection = await aio_pika.connect(
        settings.amqp_url,
        timeout=_BROKER_CONNECT_TIMEOUT_SECONDS,
        client_properties={"connection_name": "retail-hub"},
    )
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await declare_changes_exchange(channel, settings.exchange)
        yield Broker(connection, channel, exchange)
    finally:
        await connection.close()


async def run_entity(
    settings: Settings, repository: Repository, entity: str
) -> RunReport:
    """Run the connector of ``entity`` once against the ERP in ``settings``."""
    spec = get_connector(entity)
    erp = ODataClient.from_settings(settings, load_config().erp)
    try:
        return await run_connector(
            spec, erp, repository, max_delete_share=settings.max_delete_share
        )
    finally:
        await erp.close()


async def publish(
    settings: Settings, repository: Repository, broker: Broker, entity: str
) -> PublishReport:
    """Publish every committed change of ``entity`` above its watermark.

    Store queues over the backlog limit are unbound first (see hub.backlog).
    """
    guard = BacklogGuard(settings, repository, broker.connection, broker.exchange)
    publisher = Publisher(
        repository,
        broker.exchange,
        batch_size=settings.publish_batch_size,
        batch_bytes=settings.publish_batch_bytes,
        backlog_guard=guard,
    )
    return await publisher.publish_pending(entity)
