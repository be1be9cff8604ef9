"""The monitor's check write against a real FerretDB, at more than 100 stores."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from hub.repository import Repository
from hub.settings import Settings
from monitor.model import MonitorHealth, StoreStatus, StoreStatusValue
from monitor.persist import MonitorStore
from tests.conftest import PrivateFerretDB, unique


@pytest.mark.integration
async def test_write_check_of_150_stores(private_ferretdb: PrivateFerretDB) -> None:
    # A private server, because a write that hangs keeps every connection of
    # the server busy.
    settings = Settings(
        mongo_url=private_ferretdb.url, mongo_database=unique("rh_test_")
    )
    repository = Repository.from_settings(settings)
    now = datetime.now(UTC)
    statuses = {
        f"s{number:03}": StoreStatus(
            store_id=f"s{number:03}",
            name=f"store {number}",
            status="OK",
            since=now,
            updated_at=now,
        )
        for number in range(150)
    }
    health = MonitorHealth(broker_ok=True, repository_ok=True, checked_at=now)
    store = MonitorStore(repository, history_days=7)
    try:
        async with asyncio.timeout(60):
            await store.write_check(statuses, [], [], health)
            await store.write_check(statuses, [], [], health)
            loaded = await store.load_statuses()
    finally:
        await repository.close()

    assert sorted(loaded) == sorted(statuses)
    assert {status.status for status in loaded.values()} == {"OK"}


@pytest.mark.integration
async def test_write_check_replaces_statuses(repository: Repository) -> None:
    now = datetime.now(UTC)

    def status(store_id: str, value: StoreStatusValue) -> StoreStatus:
        return StoreStatus(
            store_id=store_id, name=store_id, status=value, since=now, updated_at=now
        )

    health = MonitorHealth(broker_ok=True, repository_ok=True, checked_at=now)
    store = MonitorStore(repository, history_days=7)
    first = {f"r{number:03}": status(f"r{number:03}", "OK") for number in range(60)}
    await store.write_check(first, [], [], health)

    # Another monitor wrote r059 after this one's delete; the insert of its
    # chunk then meets r059 and replaces it.
    original = AsyncCollection.delete_many

    async def delete_then_other_writer(
        self: AsyncCollection[Any], *args: Any, **kwargs: Any
    ) -> Any:
        result = await original(self, *args, **kwargs)
        if "r059" in str(args[0]):
            await self.insert_one(status("r059", "SILENT").model_dump(by_alias=True))
        return result

    second = {**first, "r010": status("r010", "LAGGING"), "r059": status("r059", "OK")}
    del second["r020"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AsyncCollection, "delete_many", delete_then_other_writer)
        await store.write_check(second, [], [], health)
    loaded = await store.load_statuses()

    assert sorted(loaded) == sorted(first)
    assert loaded["r010"].status == "LAGGING"
    assert loaded["r059"].status == "OK"
    assert loaded["r020"].status == "OK"
