"""The demo: the whole path from a simulated ERP to five stores, in one process.

It starts the ERP simulator and the pull API on free loopback ports,
registers stores (some consuming their queue, some pulling), runs the items
connector, changes the ERP, runs it again, and prints whether every store
holds exactly the hub's items. The demo uses its own database and exchange,
which it resets at the start, so it never touches a production hub's data.
"""

import asyncio
import tempfile
import time
from pathlib import Path

from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from hub.api import create_app
from hub.convergence import Comparison, compare_store
from hub.credentials import StoreSecrets, amqp_url_with_user
from hub.repository import Repository
from hub.runtime import Broker, open_broker, open_repository, publish, run_entity
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord, StoreRegistry
from store_agent.agent import StoreAgent
from store_agent.settings import AgentSettings

__all__ = ["run_demo"]

DEMO_DATABASE = "retail_hub_demo"
DEMO_EXCHANGE = "retail-hub.demo"
ENTITY = "items"
CONVERGE_TIMEOUT_SECONDS = 120.0
PULL_INTERVAL_SECONDS = 0.5
ERP_CHANGE = {"edit": 50, "add": 20, "mark_deleted": 5, "remove": 5}


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def demo_stores(count: int) -> list[StoreRecord]:
    """Return the demo's stores: the first ones consume AMQP, the last two pull."""
    pull_from = max(1, count - 2)
    return [
        StoreRecord(
            store_id=f"demo-{number:03}",
            name=f"Демо-магазин {number}",
            groups=["msk" if number % 2 else "spb"],
            transport="pull" if number > pull_from else "amqp",
        )
        for number in range(1, count + 1)
    ]


async def run_demo(base: Settings, *, items: int = 5000, stores: int = 5) -> int:
    """Run the demo and return 0 when every store matches the hub, else 1."""
    if stores < 2:
        print("error: --stores must be at least 2 (one AMQP and one pull store)")
        return 2
    catalogue = Catalogue.generate(seed=42, items=items)
    erp_app = create_erp_app(
        catalogue,
        base.erp_infobase,
        base.erp_user,
        base.erp_password.get_secret_value(),
    )
    async with BackgroundServer(erp_app) as erp:
        settings = base.model_copy(
            update={
                "mongo_database": DEMO_DATABASE,
                "exchange": DEMO_EXCHANGE,
                "erp_url": erp.url,
            }
        )
        _step(f"ERP simulator on {erp.url} with {items} items")
        async with (
            open_repository(settings) as repository,
            open_broker(settings) as broker,
        ):
            await _reset(repository)
            async with BackgroundServer(create_app(settings, repository)) as api:
                _step(f"pull API on {api.url}")
                return await _run_with_stores(
                    settings,
                    repository,
                    broker,
                    catalogue,
                    api.url,
                    demo_stores(stores),
                )


async def _reset(repository: Repository) -> None:
    # Emptying the collections, rather than dropping the database, keeps
    # FerretDB's SQLite backend from reusing a handle to a deleted file.
    for name in await repository.db.list_collection_names():
        await repository.db[name].delete_many({})


async def _run_with_stores(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    catalogue: Catalogue,
    api_url: str,
    stores: list[StoreRecord],
) -> int:
    registry = StoreRegistry(repository)
    secrets: dict[str, StoreSecrets] = {}
    for store in stores:
        await broker.channel.queue_delete(f"store.{store.store_id}.{ENTITY}")
        registration = await registry.register(
            store, broker.channel, broker.exchange, settings
        )
        # The reset above removed every store, so each registration is new
        # and returns the store's secrets.
        assert registration.secrets is not None
        secrets[store.store_id] = registration.secrets
    _step(
        "registered stores: "
        + ", ".join(f"{s.store_id} ({s.transport})" for s in stores)
    )

    with tempfile.TemporaryDirectory(prefix="retail-hub-demo-") as folder:
        agents = [
            _agent(store, secrets[store.store_id], settings, api_url, Path(folder))
            for store in stores
        ]
        for agent in agents:
            await agent.start()
        try:
            await _connector_round(settings, repository, broker, catalogue, "first run")
            await _wait_converged(repository, stores, agents)

            report = catalogue.mutate(**ERP_CHANGE)
            _step(
                f"ERP changed: {len(report.edited)} edited, {len(report.added)} added, "
                f"{len(report.marked_deleted)} marked for deletion, "
                f"{len(report.removed)} removed"
            )
            await _connector_round(
                settings, repository, broker, catalogue, "second run"
            )
            await _wait_converged(repository, stores, agents)
            await _connector_round(
                settings, repository, broker, catalogue, "third run, no ERP change"
            )

            results = await _compare_all(repository, stores, agents)
        finally:
            for agent in agents:
                await agent.stop()

    _print_table(stores, results)
    if all(result.converged for result in results):
        print(f"all {len(results)} stores hold exactly the hub's {ENTITY}")
        return 0
    print("some stores differ from the hub; see the table above")
    return 1


def _agent(
    store: StoreRecord,
    secrets: StoreSecrets,
    settings: Settings,
    api_url: str,
    folder: Path,
) -> StoreAgent:
    # Each agent uses its store's own broker user and API token, as a real
    # store would.
    assert secrets.broker_user is not None
    assert secrets.broker_password is not None
    amqp_url = amqp_url_with_user(
        settings.amqp_url, secrets.broker_user, secrets.broker_password
    )
    return StoreAgent(
        AgentSettings(
            store_id=store.store_id,
            mode=store.transport,
            hub_url=api_url,
            amqp_url=amqp_url,
            token=secrets.api_token,
            database=folder / f"{store.store_id}.sqlite3",
            entities=[ENTITY],
            pull_interval_seconds=PULL_INTERVAL_SECONDS,
        )
    )


async def _connector_round(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    catalogue: Catalogue,
    title: str,
) -> None:
    requests_before = catalogue.stats.requests_total
    run = await run_entity(settings, repository, ENTITY)
    sent = await publish(settings, repository, broker, ENTITY)
    _step(
        f"{title}: {catalogue.stats.requests_total - requests_before} ERP requests, "
        f"{run.records_read} rows read, {run.written} written, {run.deleted} deleted, "
        f"{run.unchanged} unchanged, {run.quarantined} quarantined; "
        f"published {sent.documents} documents in {sent.messages} messages "
        f"(revision {run.committed_revision}, {run.duration_seconds:.1f}s)"
    )


async def _compare_all(
    repository: Repository, stores: list[StoreRecord], agents: list[StoreAgent]
) -> list[Comparison]:
    results = []
    for store, agent in zip(stores, agents, strict=True):
        local = agent.local_store
        documents = await asyncio.to_thread(local.live_documents, ENTITY)
        revision = await asyncio.to_thread(local.applied_revision, ENTITY)
        results.append(
            await compare_store(repository, store, ENTITY, documents, revision)
        )
    return results


async def _wait_converged(
    repository: Repository, stores: list[StoreRecord], agents: list[StoreAgent]
) -> None:
    started = time.monotonic()
    deadline = started + CONVERGE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        # Comparing every document is costly, so it waits until every store
        # reports the hub's revision.
        hub_revision = await repository.committed_revision(ENTITY)
        revisions = [
            await asyncio.to_thread(agent.local_store.applied_revision, ENTITY)
            for agent in agents
        ]
        if min(revisions) < hub_revision:
            await asyncio.sleep(0.25)
            continue
        results = await _compare_all(repository, stores, agents)
        if all(result.converged for result in results):
            _step(f"every store caught up in {time.monotonic() - started:.1f}s")
            return
        await asyncio.sleep(0.25)
    _step(f"stores did not catch up within {CONVERGE_TIMEOUT_SECONDS:.0f}s")


def _print_table(stores: list[StoreRecord], results: list[Comparison]) -> None:
    print()
    header = f"{'store':<10} {'transport':<9} {'items':>6} {'revision':>9} {'hub':>6}"
    print(f"{header}  matches hub")
    for store, result in zip(stores, results, strict=True):
        verdict = "yes" if result.converged else _difference(result)
        print(
            f"{store.store_id:<10} {store.transport:<9} {result.store_documents:>6} "
            f"{result.store_revision:>9} {result.hub_revision:>6}  {verdict}"
        )
    print()


def _difference(result: Comparison) -> str:
    parts = []
    if result.missing:
        parts.append(f"{len(result.missing)} missing")
    if result.extra:
        parts.append(f"{len(result.extra)} extra")
    if result.different:
        parts.append(f"{len(result.different)} different")
    if result.store_revision < result.hub_revision:
        parts.append("behind")
    return "NO: " + ", ".join(parts)
