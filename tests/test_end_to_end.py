"""The item master from the ERP simulator to stores, on the real servers."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import pytest

from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from hub.api import create_app
from hub.convergence import Comparison, compare_store
from hub.credentials import StoreSecrets
from hub.errors import RepositoryUnavailableError
from hub.repository import Repository
from hub.runtime import Broker, publish, run_entity
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord, StoreRegistry
from store_agent.agent import StoreAgent
from store_agent.local_store import LocalStore, StoredDocument
from store_agent.settings import AgentSettings
from tests.conftest import FIXTURES, PrivateFerretDB, unique

pytestmark = pytest.mark.integration

ITEMS = "items"
CATALOGUE_ITEMS = 600
WAIT_SECONDS = 60.0


@dataclass
class Hub:
    """A hub wired to a simulated ERP and a served pull API."""

    settings: Settings
    repository: Repository
    broker: Broker
    catalogue: Catalogue
    api_url: str
    queues: list[str]
    secrets: dict[str, StoreSecrets] = field(default_factory=dict)

    async def register(
        self, transport: str, groups: list[str] | None = None
    ) -> StoreRecord:
        store = StoreRecord(
            store_id=unique("e2e-"),
            name="test store",
            groups=groups or [],
            transport=transport,  # type: ignore[arg-type]
        )
        self.queues.append(f"store.{store.store_id}.{ITEMS}")
        registry = StoreRegistry(self.repository)
        registration = await registry.register(
            store, self.broker.channel, self.broker.exchange, self.settings
        )
        assert registration.secrets is not None
        self.secrets[store.store_id] = registration.secrets
        return registration.record

    async def run_and_publish(self) -> tuple[int, int, int]:
        """Run the items connector and publish; return written, deleted, published."""
        run = await run_entity(self.settings, self.repository, ITEMS)
        sent = await publish(self.settings, self.repository, self.broker, ITEMS)
        return run.written, run.deleted, sent.documents

    def agent(self, store: StoreRecord, folder: Path) -> StoreAgent:
        return StoreAgent(
            AgentSettings(
                store_id=store.store_id,
                mode=store.transport,
                hub_url=self.api_url,
                amqp_url=self.settings.amqp_url,
                database=folder / f"{store.store_id}.sqlite3",
                entities=[ITEMS],
                pull_interval_seconds=0.2,
                token=self.secrets[store.store_id].api_token,
            )
        )


async def _hub(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    catalogue: Catalogue,
    queues: list[str],
) -> AsyncIterator[Hub]:
    erp_app = create_erp_app(catalogue, settings.erp_infobase, settings.erp_user, "hub")
    async with BackgroundServer(erp_app) as erp:
        hub_settings = settings.model_copy(update={"erp_url": erp.url})
        async with BackgroundServer(create_app(hub_settings, repository)) as api:
            yield Hub(hub_settings, repository, broker, catalogue, api.url, queues)


@pytest.fixture
async def hub(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> AsyncIterator[Hub]:
    catalogue = Catalogue.generate(seed=7, items=CATALOGUE_ITEMS)
    async for opened in _hub(settings, repository, broker, catalogue, cleanup_queues):
        yield opened


async def _compare(hub: Hub, store: StoreRecord, agent: StoreAgent) -> Comparison:
    local = agent.local_store
    documents = await asyncio.to_thread(local.live_documents, ITEMS)
    revision = await asyncio.to_thread(local.applied_revision, ITEMS)
    return await compare_store(hub.repository, store, ITEMS, documents, revision)


async def _wait_converged(
    hub: Hub, pairs: list[tuple[StoreRecord, StoreAgent]]
) -> list[Comparison]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        results = [await _compare(hub, store, agent) for store, agent in pairs]
        if all(result.converged for result in results) or time.monotonic() > deadline:
            return results
        await asyncio.sleep(0.2)


async def test_amqp_and_pull_stores_match_hub(hub: Hub, tmp_path: Path) -> None:
    amqp_store = await hub.register("amqp", ["msk"])
    pull_store = await hub.register("pull", ["spb"])
    async with (
        hub.agent(amqp_store, tmp_path) as amqp_agent,
        hub.agent(pull_store, tmp_path) as pull_agent,
    ):
        pairs = [(amqp_store, amqp_agent), (pull_store, pull_agent)]
        await hub.run_and_publish()
        first = await _wait_converged(hub, pairs)
        assert [r.converged for r in first] == [True, True]

        change = hub.catalogue.mutate(edit=50, add=20, mark_deleted=5, remove=5)
        written, deleted, published = await hub.run_and_publish()
        results = await _wait_converged(hub, pairs)

        gone = set(change.marked_deleted) | set(change.removed)
        for (_, agent), result in zip(pairs, results, strict=True):
            assert result.missing == []
            assert result.extra == []
            assert result.different == []
            assert result.store_revision == result.hub_revision
            held = await asyncio.to_thread(agent.local_store.live_documents, ITEMS)
            assert gone.isdisjoint(held)
            assert set(change.added) <= held.keys()
            assert len(held) == first[0].hub_documents + 20 - 10
    assert (written, deleted, published) == (70, 10, 80)


async def test_unchanged_run_writes_and_publishes_nothing(hub: Hub) -> None:
    store = await hub.register("amqp")
    await hub.run_and_publish()
    revision = await hub.repository.committed_revision(ITEMS)
    queue = await hub.broker.channel.get_queue(f"store.{store.store_id}.{ITEMS}")
    depth = (await queue.declare()).message_count

    written, deleted, published = await hub.run_and_publish()

    assert (written, deleted, published) == (0, 0, 0)
    assert await hub.repository.committed_revision(ITEMS) == revision
    assert (await queue.declare()).message_count == depth


async def _take_messages(hub: Hub, queue_name: str) -> list[aio_pika.Message]:
    queue = await hub.broker.channel.get_queue(queue_name)
    taken: list[aio_pika.Message] = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        taken.append(
            aio_pika.Message(
                message.body,
                content_type=message.content_type,
                message_id=message.message_id,
                headers=dict(message.headers),
            )
        )
    return taken


async def _send_to_queue(
    hub: Hub, queue_name: str, messages: list[aio_pika.Message]
) -> None:
    for message in messages:
        await hub.broker.channel.default_exchange.publish(
            message, routing_key=queue_name
        )


async def _wait_queue_drained(hub: Hub, queue_name: str) -> None:
    queue = await hub.broker.channel.get_queue(queue_name)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        declared = await queue.declare()
        if declared.message_count == 0:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{queue_name} still holds messages")


async def _consume_all(
    hub: Hub, store: StoreRecord, database: Path, messages: list[aio_pika.Message]
) -> dict[str, StoredDocument]:
    """Send ``messages`` to the store's queue, let an agent apply them all, and
    return the store's documents afterwards."""
    queue_name = f"store.{store.store_id}.{ITEMS}"
    agent = StoreAgent(
        AgentSettings(
            store_id=store.store_id,
            mode="amqp",
            hub_url=None,
            amqp_url=hub.settings.amqp_url,
            database=database,
            entities=[ITEMS],
            prefetch=1,
        )
    )
    async with agent:
        await _send_to_queue(hub, queue_name, messages)
        await _wait_queue_drained(hub, queue_name)
    # With a prefetch of 1, stopping the agent finishes the one message in
    # flight. A message it had not acknowledged would be back in the queue.
    queue = await hub.broker.channel.get_queue(queue_name)
    assert (await queue.declare()).message_count == 0
    with LocalStore(database) as local:
        return local.live_documents(ITEMS)


async def test_replaying_every_message_twice_changes_nothing(
    hub: Hub, tmp_path: Path
) -> None:
    store = await hub.register("amqp")
    queue_name = f"store.{store.store_id}.{ITEMS}"
    await hub.run_and_publish()
    first_run = await _take_messages(hub, queue_name)
    hub.catalogue.mutate(edit=30, add=5, mark_deleted=3, remove=3)
    await hub.run_and_publish()
    second_run = await _take_messages(hub, queue_name)
    assert first_run
    assert second_run
    database = tmp_path / "replay.sqlite3"

    held = await _consume_all(hub, store, database, first_run + second_run)
    # Every message twice more, the older run after the newer one.
    replays = second_run + first_run + first_run + second_run
    held_after = await _consume_all(hub, store, database, replays)

    hub_view = await hub.repository.live_documents(ITEMS, store.scopes)
    assert held.keys() == hub_view.keys()
    assert {k: (d.rev, d.hash, d.data) for k, d in held.items()} == {
        k: (d.rev, d.hash, d.data) for k, d in hub_view.items()
    }
    assert held_after == held


async def test_erp_requests_do_not_grow_with_stores(hub: Hub) -> None:
    await hub.register("amqp")
    before = hub.catalogue.stats.requests_total
    await hub.run_and_publish()
    with_one_store = hub.catalogue.stats.requests_total - before

    for number in range(49):
        await hub.register("pull" if number % 2 else "amqp")
    before = hub.catalogue.stats.requests_total
    await hub.run_and_publish()
    with_fifty_stores = hub.catalogue.stats.requests_total - before

    assert with_one_store > 0
    assert with_fifty_stores == with_one_store


async def test_replayed_erp_dump_reaches_store(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
    tmp_path: Path,
) -> None:
    catalogue = Catalogue.from_folder(FIXTURES / "onec")
    async for hub in _hub(settings, repository, broker, catalogue, cleanup_queues):
        store = await hub.register("pull")
        await hub.run_and_publish()
        async with hub.agent(store, tmp_path) as agent:
            (result,) = await _wait_converged(hub, [(store, agent)])

    assert result.converged
    # The captured catalogue has 163 live items besides its folders and
    # the items marked for deletion.
    assert result.store_documents == 163


async def test_connector_fails_cleanly_without_repository(
    private_ferretdb: PrivateFerretDB,
    broker: Broker,
    cleanup_queues: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        mongo_url=private_ferretdb.url,
        mongo_database=unique("rh_"),
        exchange=broker.exchange.name,
    )
    repository = Repository.from_settings(settings)
    catalogue = Catalogue.generate(seed=3, items=200)
    try:
        async for hub in _hub(settings, repository, broker, catalogue, cleanup_queues):
            store = await hub.register("amqp")
            queue = await broker.channel.get_queue(f"store.{store.store_id}.{ITEMS}")
            await hub.run_and_publish()
            depth = (await queue.declare()).message_count
            revision = await repository.committed_revision(ITEMS)

            hub.catalogue.mutate(edit=10)
            private_ferretdb.stop()
            caplog.set_level(logging.ERROR, logger="connectors.engine")
            with pytest.raises(RepositoryUnavailableError):
                await run_entity(hub.settings, repository, ITEMS)

            private_ferretdb.start()
            await private_ferretdb.wait_ready()
            sent = await publish(hub.settings, repository, broker, ITEMS)
            assert sent.documents == 0
            assert (await queue.declare()).message_count == depth
            assert await repository.committed_revision(ITEMS) == revision
    finally:
        await repository.close()
    failures = [r for r in caplog.records if r.name == "connectors.engine"]
    assert failures
    assert "failed" in failures[0].getMessage()
    assert "RepositoryUnavailableError" in failures[0].getMessage()


class _CrashBeforeCommit(Repository):
    """A repository whose writer dies after writing, before its commit."""

    async def commit(self, entity: str, revision: int) -> None:
        raise RuntimeError("writer died before its commit")


async def test_rerun_commits_interrupted_write(hub: Hub, tmp_path: Path) -> None:
    store = await hub.register("pull")
    await hub.run_and_publish()
    before = await hub.repository.committed_revision(ITEMS)
    change = hub.catalogue.mutate(edit=30)
    crashing = _CrashBeforeCommit(hub.repository.client, hub.settings.mongo_database)
    with pytest.raises(RuntimeError):
        await run_entity(hub.settings, crashing, ITEMS)
    hidden = await hub.repository.live_documents(ITEMS)
    assert all(hidden[key].rev <= before for key in change.edited)

    written, _, _ = await hub.run_and_publish()

    visible = await hub.repository.live_documents(ITEMS)
    assert written == 0
    assert set(change.edited) <= visible.keys()
    async with hub.agent(store, tmp_path) as agent:
        (result,) = await _wait_converged(hub, [(store, agent)])
    assert result.converged
    held = await asyncio.to_thread(
        agent_documents, tmp_path / f"{store.store_id}.sqlite3"
    )
    for key in change.edited:
        assert held[key] == (visible[key].rev, visible[key].hash)


def agent_documents(database: Path) -> dict[str, tuple[int, str]]:
    with LocalStore(database) as local:
        return {k: (d.rev, d.hash) for k, d in local.live_documents(ITEMS).items()}
