"""Fixtures of the fault-injection cases."""

import contextlib
from collections.abc import AsyncIterator

import aio_pika
import pytest

from hub.broker import dead_letter_queue_name
from hub.settings import Settings
from tests.conftest import PrivateFerretDB, unique


@pytest.fixture
def settings(private_ferretdb: PrivateFerretDB) -> Settings:
    """Settings with the test's own FerretDB server, exchanges and database.

    A server per case keeps other tests' load on the shared FerretDB out of
    these cases, and lets a case stop the server it uses.
    """
    return Settings(
        mongo_url=private_ferretdb.url,
        mongo_database=unique("rh_fault_"),
        exchange=unique("rh-fault-"),
        dead_letter_exchange=unique("rh-fault-dlx-"),
    )


@pytest.fixture
async def store_queues(settings: Settings) -> AsyncIterator[list[str]]:
    """A list the test appends store queue names to; they are deleted afterwards.

    Each store's dead-letter queue goes too. The cases register stores
    without broker users, so unlike ``cleanup_queues`` this needs no
    management API, only AMQP.
    """
    names: list[str] = []
    yield names
    stores = sorted({name.split(".")[1] for name in names})
    names += [dead_letter_queue_name(store) for store in stores]
    async with await aio_pika.connect(settings.amqp_url) as connection:
        for name in names:
            channel = await connection.channel()
            # A missing queue closes the channel; the next name gets a new one.
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                await channel.queue_delete(name)
