"""The monitor's check write against a real FerretDB, at more than 100 stores."""

import asyncio
from datetime import UTC, datetime

import pytest

from hub.repository import Repository
from hub.settings import Settings
from monitor.model import MonitorHealth, StoreStatus
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
