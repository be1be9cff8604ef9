"""The MongoDB-protocol server stopped during a connector run and during pulls.

Both cases run on a private FerretDB, which the test kills and starts again
on the same data. While it is down, the pull API returns 503 with
Retry-After. No revision written only in part is ever published or served,
so every store keeps a copy that matches the hub, and converges once the
server is back.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from connectors.config import CONFIG_ENV, load_config
from connectors.errors import LeaseHeldError
from connectors.odata import ODataClient
from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from hub.api import RETRY_AFTER_SECONDS
from hub.connector_runs import run_and_publish
from hub.errors import RepositoryUnavailableError
from hub.repository import Repository
from hub.runtime import Broker, publish
from hub.serving import BackgroundServer
from hub.settings import Settings
from store_agent.local_store import LocalStore
from tests.conftest import PrivateFerretDB
from tests.delivery_support import bearer
from tests.faults.harness import (
    ITEMS,
    Hub,
    Store,
    assert_converged,
    fast_connectors_file,
    serve_hub,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EDITED = 150
WRITE_CHUNK = 50
LEASE_SECONDS = 2.0


@pytest.fixture
async def private_repository(
    private_ferretdb: PrivateFerretDB, settings: Settings
) -> AsyncIterator[Repository]:
    repository = Repository.from_settings(
        settings.model_copy(
            update={"mongo_url": private_ferretdb.url, "mongo_timeout_ms": 500}
        )
    )
    await repository.ensure_indexes()
    yield repository
    await repository.close()


@pytest.fixture
async def hub(
    private_ferretdb: PrivateFerretDB,
    private_repository: Repository,
    settings: Settings,
    broker: Broker,
    store_queues: list[str],
    tmp_path: Path,
) -> AsyncIterator[Hub]:
    settings = settings.model_copy(
        update={"mongo_url": private_ferretdb.url, "mongo_timeout_ms": 500}
    )
    async with serve_hub(settings, private_repository, tmp_path, store_queues) as hub:
        await hub.add_store("amqp", broker.channel, broker.exchange)
        await hub.add_store("pull")
        yield hub


async def _get_changes(hub: Hub, store: Store) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.api_url) as client:
        return await client.get(
            f"/v1/stores/{store.store_id}/changes/{ITEMS}",
            headers=bearer(store.token),
            timeout=30,
        )


async def _run_when_lease_free(run: Callable[[], Awaitable[None]]) -> int:
    """Run until the lease is free, as the scheduler would; return the skips."""
    skipped = 0
    while True:
        try:
            await run()
        except LeaseHeldError:
            skipped += 1
            assert skipped < 20, "the lease of the failed run never expired"
            await asyncio.sleep(LEASE_SECONDS / 4)
        else:
            return skipped


async def _above_committed(repository: Repository) -> int:
    committed = await repository.committed_revision(ITEMS)
    return await repository.db.documents.count_documents(
        {"entity": ITEMS, "rev": {"$gt": committed}}
    )


async def test_server_stopped_mid_write(
    hub: Hub,
    private_ferretdb: PrivateFerretDB,
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(fast_connectors_file(tmp_path)))
    # Several insert batches per run, so the server can die between two.
    monkeypatch.setattr("hub.repository._WRITE_CHUNK", WRITE_CHUNK)
    # The failed run could not release its lease while the server was down,
    # so the lease blocks the entity until it expires: 60 s by default.
    monkeypatch.setattr("connectors.engine._LEASE_TTL_SECONDS", LEASE_SECONDS)
    catalogue = Catalogue.generate(seed=11, items=300)
    repository = hub.repository

    async def run() -> None:
        erp = ODataClient.from_settings(hub.settings, load_config().erp)
        try:
            await run_and_publish(hub.settings, repository, erp, ITEMS, broker)
        finally:
            await erp.close()

    async with BackgroundServer(create_erp_app(catalogue)) as erp_server:
        hub.settings = hub.settings.model_copy(update={"erp_url": erp_server.url})
        async with hub.agent(hub.stores[0]), hub.agent(hub.stores[1]):
            await run()
            before = await assert_converged(repository, hub.stores)
            revision = await repository.committed_revision(ITEMS)
            change = catalogue.mutate(edit=EDITED)

            inserts = 0
            insert_many = AsyncCollection.insert_many

            async def insert_then_stop(
                self: AsyncCollection[Any], *args: Any, **kwargs: Any
            ) -> Any:
                nonlocal inserts
                result = await insert_many(self, *args, **kwargs)
                if self.name == "documents":
                    inserts += 1
                    if inserts == 1:
                        private_ferretdb.stop()
                return result

            monkeypatch.setattr(AsyncCollection, "insert_many", insert_then_stop)
            with pytest.raises(RepositoryUnavailableError):
                await run()
            monkeypatch.setattr(AsyncCollection, "insert_many", insert_many)
            down = await _get_changes(hub, hub.stores[1])

            private_ferretdb.start()
            await private_ferretdb.wait_ready()
            revision_after_crash = await repository.committed_revision(ITEMS)
            hidden = await _above_committed(repository)
            during = await assert_converged(repository, hub.stores)
            sent = await publish(hub.settings, repository, broker, ITEMS)

            await _run_when_lease_free(run)
            after = await assert_converged(repository, hub.stores)
            live = await repository.live_documents(ITEMS)

    assert down.status_code == 503
    assert down.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert revision_after_crash == revision
    assert hidden == WRITE_CHUNK
    assert [r.store_revision for r in during] == [revision, revision]
    assert [r.store_documents for r in during] == [r.store_documents for r in before]
    assert sent.documents == 0
    assert after[0].hub_revision > revision
    assert all(live[key].rev > revision for key in change.edited)


async def test_server_stopped_during_pull(
    hub: Hub,
    private_ferretdb: PrivateFerretDB,
    broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repository = hub.repository
    amqp_store, pull_store = hub.stores
    await hub.commit([f"k{i:03d}" for i in range(300)], 1)
    await publish(hub.settings, repository, broker, ITEMS)
    committed = await repository.committed_revision(ITEMS)

    pages = 0
    apply = LocalStore.apply

    def apply_then_stop(self: LocalStore, *args: Any, **kwargs: Any) -> Any:
        nonlocal pages
        result = apply(self, *args, **kwargs)
        if self.path == pull_store.database:
            pages += 1
            if pages == 2:
                private_ferretdb.stop()
        return result

    monkeypatch.setattr(LocalStore, "apply", apply_then_stop)
    async with hub.agent(amqp_store), hub.agent(pull_store, page_size=50) as puller:
        await wait_until(lambda: pages >= 2, "the second page", 30)
        down = await _get_changes(hub, pull_store)
        held = await _held(puller.local_store)

        private_ferretdb.start()
        await private_ferretdb.wait_ready()
        # The documents the store took before the stop are the hub's.
        hub_view = await repository.live_documents(ITEMS, pull_store.record.scopes)
        results = await assert_converged(repository, hub.stores)

    assert down.status_code == 503
    assert down.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert down.json()["error"] == "repository_unavailable"
    assert 0 < held[1] < committed
    assert len(held[0]) == held[1]
    for key, document in held[0].items():
        assert (document.rev, document.hash) == (hub_view[key].rev, hub_view[key].hash)
    assert [result.store_documents for result in results] == [300, 300]


async def _held(local: LocalStore) -> tuple[dict[str, Any], int]:
    return local.live_documents(ITEMS), local.applied_revision(ITEMS)
