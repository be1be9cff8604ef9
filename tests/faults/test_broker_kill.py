"""RabbitMQ killed with SIGKILL while the publisher sends 10,000 changes.

The case runs on a private RabbitMQ node, never on the shared one. The
publisher is the long-running ``PublisherLoop``. The node dies once 350 of
the 500 messages are confirmed: the first 5,000 revisions are then under the
watermark, and of the rest some are in queues and some were in flight and
are lost. The node restarts on the same data folder. Three stores must then
match the hub: one that only consumes its queue (no pull API), one that
consumes and pulls after a reconnect, and one that only pulls.
"""

import asyncio
from pathlib import Path

import pytest

from connectors.publisher import Publisher
from hub.publisher_loop import PublisherLoop
from hub.repository import Repository
from hub.runtime import open_broker
from hub.settings import Settings
from tests.conftest import PrivateRabbitMQ
from tests.faults.harness import ITEMS, assert_converged, serve_hub, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CHANGES = 10_000
BATCH_SIZE = 20
# The publisher reads 5,000 revisions per chunk, so 250 messages each; the
# node dies during the second chunk.
KILL_AFTER_CONFIRMS = 350


@pytest.mark.timeout(300)
async def test_broker_killed_mid_publish(
    private_rabbitmq: PrivateRabbitMQ,
    settings: Settings,
    repository: Repository,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings.model_copy(
        update={
            "amqp_url": private_rabbitmq.url,
            "publish_batch_size": BATCH_SIZE,
            "publish_interval_seconds": 0.2,
        }
    )
    async with serve_hub(settings, repository, tmp_path, []) as hub:
        async with open_broker(settings) as broker:
            queue_only = await hub.add_store("amqp", broker.channel, broker.exchange)
            amqp = await hub.add_store("amqp", broker.channel, broker.exchange)
        pull = await hub.add_store("pull")

        confirmed = 0
        watermarks_at_kill: list[int] = []
        send = Publisher._send

        async def send_then_kill(self: Publisher, entity: str, batch: object) -> None:
            nonlocal confirmed
            await send(self, entity, batch)  # type: ignore[arg-type]
            confirmed += 1
            if confirmed == KILL_AFTER_CONFIRMS:
                private_rabbitmq.kill()
                watermarks_at_kill.append(await repository.published_revision(ITEMS))

        monkeypatch.setattr(Publisher, "_send", send_then_kill)
        loop = PublisherLoop(
            hub.settings,
            repository,
            [ITEMS],
            base_delay_seconds=0.2,
            max_delay_seconds=1.0,
        )

        async with (
            hub.agent(queue_only, hub_url=None),
            hub.agent(amqp),
            hub.agent(pull, page_size=5000),
        ):
            await hub.commit([f"k{i:05d}" for i in range(CHANGES)], 1)
            publishing = asyncio.create_task(loop.run())
            try:
                await wait_until(lambda: bool(watermarks_at_kill), "the kill", 120)
                await wait_until(lambda: loop.failed_attempts >= 1, "a failed publish")
                private_rabbitmq.start()
                await private_rabbitmq.wait_ready()
                await wait_until(
                    lambda: _published_all(repository),
                    "the watermark at the last revision",
                    120,
                )
                results = await assert_converged(repository, hub.stores)
            finally:
                loop.request_stop()
                await asyncio.wait_for(publishing, timeout=30)

    assert watermarks_at_kill == [CHANGES // 2]
    assert [result.store_documents for result in results] == [CHANGES] * 3
    assert [result.hub_revision for result in results] == [CHANGES] * 3


async def _published_all(repository: Repository) -> bool:
    return await repository.published_revision(ITEMS) == CHANGES
