"""Every entity from the ERP simulator to an AMQP store and a pull store.

Prices are scoped to store groups and stock to single stores: each store
must hold exactly the prices of its group and the stock of its own
warehouse, and nothing of any other store.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.config import CONFIG_ENV, DEFAULT_CONFIG_PATH
from contracts import ENTITIES
from erp_simulator import PRICE_TYPES, WAREHOUSES, Catalogue
from erp_simulator import create_app as create_erp_app
from erp_simulator.catalogue import PRICES_SLICE_LAST, STOCK_BALANCE
from hub.api import create_app
from hub.convergence import Comparison, compare_store
from hub.repository import Repository
from hub.runtime import Broker, publish, run_entity
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord, StoreRegistry
from store_agent.agent import StoreAgent
from store_agent.settings import AgentSettings
from tests.conftest import unique

pytestmark = pytest.mark.integration

WAIT_SECONDS = 60.0
ALL_ENTITIES = sorted(ENTITIES)


@pytest.fixture
def store_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Give this test's store ids a prefix of their own, through the config file.

    Store queues are named after store ids, so ids made from the simulator's
    warehouse codes alone would collide with other tests on the broker.
    """
    prefix = unique("w") + "-"
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert 'store_id_prefix = ""' in text
    path = tmp_path / "connectors.toml"
    path.write_text(
        text.replace('store_id_prefix = ""', f'store_id_prefix = "{prefix}"'),
        encoding="utf-8",
    )
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return prefix


async def _register(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    store: StoreRecord,
) -> tuple[StoreRecord, str | None]:
    """Register ``store``; return its record and its API token, if it has one."""
    registry = StoreRegistry(repository)
    result: Any = await registry.register(
        store, broker.channel, broker.exchange, settings
    )
    record: StoreRecord = getattr(result, "record", result)
    secrets = getattr(result, "secrets", None)
    return record, getattr(secrets, "api_token", None)


def _agent(
    settings: Settings,
    api_url: str,
    store: StoreRecord,
    token: str | None,
    folder: Path,
) -> StoreAgent:
    options: dict[str, Any] = {"token": token} if token else {}
    return StoreAgent(
        AgentSettings(
            store_id=store.store_id,
            mode=store.transport,
            hub_url=api_url,
            amqp_url=settings.amqp_url,
            database=folder / f"{store.store_id}.sqlite3",
            entities=ALL_ENTITIES,
            pull_interval_seconds=0.2,
            **options,
        )
    )


async def _compare_all(
    repository: Repository, store: StoreRecord, agent: StoreAgent
) -> list[Comparison]:
    results = []
    for entity in ALL_ENTITIES:
        local = agent.local_store
        documents = await asyncio.to_thread(local.live_documents, entity)
        revision = await asyncio.to_thread(local.applied_revision, entity)
        results.append(
            await compare_store(repository, store, entity, documents, revision)
        )
    return results


async def _wait_converged(
    repository: Repository, pairs: list[tuple[StoreRecord, StoreAgent]]
) -> list[Comparison]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        results = [
            result
            for store, agent in pairs
            for result in await _compare_all(repository, store, agent)
        ]
        if all(r.converged for r in results) or time.monotonic() > deadline:
            return results
        await asyncio.sleep(0.3)


@pytest.fixture
async def catalogue() -> AsyncIterator[Catalogue]:
    yield Catalogue.generate(seed=11, items=80, stores=6, stock_items=15)


async def test_stores_get_own_prices_and_stock(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
    catalogue: Catalogue,
    store_prefix: str,
    tmp_path: Path,
) -> None:
    warehouses = [
        row
        for row in catalogue.rows(WAREHOUSES)
        if row["ТипСклада"] == "РозничныйМагазин" and not row["DeletionMark"]
    ]
    price_types = {row["Code"]: row["Ref_Key"] for row in catalogue.rows(PRICE_TYPES)}
    amqp_warehouse, pull_warehouse = warehouses[0], warehouses[1]
    stores = [
        StoreRecord(
            store_id=f"{store_prefix}{amqp_warehouse['Code']}",
            name="amqp store",
            groups=["retail-capitals"],
            transport="amqp",
        ),
        StoreRecord(
            store_id=f"{store_prefix}{pull_warehouse['Code']}",
            name="pull store",
            groups=["retail-regions"],
            transport="pull",
        ),
    ]
    for store in stores:
        cleanup_queues.extend(
            f"store.{store.store_id}.{entity}" for entity in ALL_ENTITIES
        )

    erp_app = create_erp_app(catalogue, settings.erp_infobase, settings.erp_user, "hub")
    async with BackgroundServer(erp_app) as erp:
        hub_settings = settings.model_copy(update={"erp_url": erp.url})
        registered = [
            await _register(hub_settings, repository, broker, store) for store in stores
        ]
        for entity in ALL_ENTITIES:
            report = await run_entity(hub_settings, repository, entity)
            assert report.status == "succeeded", entity
            assert report.quarantined == 0, entity
            await publish(hub_settings, repository, broker, entity)

        async with BackgroundServer(create_app(hub_settings, repository)) as api:
            agents = [
                _agent(hub_settings, api.url, record, token, tmp_path)
                for record, token in registered
            ]
            async with agents[0] as amqp_agent, agents[1] as pull_agent:
                pairs = [(registered[0][0], amqp_agent), (registered[1][0], pull_agent)]
                results = await _wait_converged(repository, pairs)
                held = [
                    {
                        entity: await asyncio.to_thread(
                            agent.local_store.live_documents, entity
                        )
                        for entity in ("prices", "stock", "items", "stores")
                    }
                    for _, agent in pairs
                ]

    assert [(r.store_id, r.entity) for r in results if not r.converged] == []

    slice_last = catalogue.rows(PRICES_SLICE_LAST)
    balance = catalogue.rows(STOCK_BALANCE)
    expected = [
        (amqp_warehouse, price_types["000000002"]),
        (pull_warehouse, price_types["000000003"]),
    ]
    for documents, (warehouse, price_type) in zip(held, expected, strict=True):
        prices = {
            f"{r['Номенклатура_Key']}|{r['ВидЦены_Key']}": r["Цена"]
            for r in slice_last
            if r["ВидЦены_Key"] == price_type
        }
        assert {k: d.data["price"] for k, d in documents["prices"].items()} == prices
        stock = {
            f"{r['Номенклатура_Key']}|{r['Склад_Key']}": r["ВНаличииBalance"]
            for r in balance
            if r["Склад_Key"] == warehouse["Ref_Key"]
        }
        assert stock
        assert {k: d.data["on_hand"] for k, d in documents["stock"].items()} == stock
        store_ids = {d.data["store_id"] for d in documents["stock"].values()}
        assert store_ids == {f"{store_prefix}{warehouse['Code']}"}
        assert len(documents["stores"]) == len(warehouses)
        assert documents["items"]
