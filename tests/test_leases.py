"""Leases keep two connector processes from running one entity together."""

import asyncio

import pytest

from connectors.engine import ConnectorSpec, run_connector
from connectors.errors import LeaseHeldError, MappingFailedError
from connectors.mapping import MappingResult, QuarantinedRecord
from connectors.odata import ODataClient
from hub.leases import Lease, LeaseLostError, LeaseUnavailableError
from hub.repository import Repository

pytestmark = pytest.mark.integration


async def test_second_holder_is_rejected(repository: Repository) -> None:
    async with Lease(repository.db, "job", holder="a"):
        with pytest.raises(LeaseUnavailableError) as caught:
            await Lease(repository.db, "job", holder="b").acquire()

    assert caught.value.holder == "a"
    assert "held by a" in str(caught.value)


async def test_lease_is_free_after_release(repository: Repository) -> None:
    async with Lease(repository.db, "job", holder="a"):
        pass

    await Lease(repository.db, "job", holder="b").acquire()


async def test_expired_lease_can_be_taken(repository: Repository) -> None:
    dead = Lease(repository.db, "job", holder="dead", ttl_seconds=0.2)
    await dead.acquire()  # acquired and never released: its holder died
    await asyncio.sleep(0.3)

    await Lease(repository.db, "job", holder="alive").acquire()

    row = await repository.db.leases.find_one({"_id": "job"})
    assert row is not None
    assert row["holder"] == "alive"


async def test_second_connector_run_skips(
    repository: Repository, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    reads = 0

    async def slow_read(erp: ODataClient) -> tuple[int, MappingResult]:
        nonlocal reads
        reads += 1
        started.set()
        await release.wait()
        return 0, MappingResult()

    spec = ConnectorSpec("items", slow_read)
    erp = ODataClient("http://127.0.0.1:1", "erp", "u", "p")
    first = asyncio.create_task(
        run_connector(spec, erp, repository, max_delete_share=0.2, lease_holder="one")
    )
    await started.wait()
    caplog.set_level("INFO", logger="connectors.engine")

    with pytest.raises(LeaseHeldError):
        await run_connector(
            spec, erp, repository, max_delete_share=0.2, lease_holder="two"
        )
    release.set()
    report = await first
    await erp.close()

    assert reads == 1
    assert report.status == "succeeded"
    assert any("skipped" in r.getMessage() for r in caplog.records)


async def test_run_stops_when_lease_taken_over(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.engine._LEASE_TTL_SECONDS", 0.6)
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_read(erp: ODataClient) -> tuple[int, MappingResult]:
        reading.set()
        await release.wait()
        return 0, MappingResult()

    spec = ConnectorSpec("items", slow_read)
    erp = ODataClient("http://127.0.0.1:1", "erp", "u", "p")
    run = asyncio.create_task(
        run_connector(spec, erp, repository, max_delete_share=0.2, lease_holder="slow")
    )
    await reading.wait()
    # The slow holder paused past its lease; another holder took it over.
    await repository.db.leases.update_one(
        {"_id": "connector:items"}, {"$set": {"holder": "other"}}
    )
    await asyncio.sleep(0.5)  # the renewal runs every third of the lease
    release.set()

    with pytest.raises(LeaseLostError):
        await run
    await erp.close()
    assert await repository.committed_revision("items") == 0


async def test_run_with_every_record_quarantined_fails(repository: Repository) -> None:
    async def broken_read(erp: ODataClient) -> tuple[int, MappingResult]:
        mapped = MappingResult()
        mapped.quarantined.append(QuarantinedRecord("k", "invalid field name", {}))
        return 1, mapped

    erp = ODataClient("http://127.0.0.1:1", "erp", "u", "p")
    with pytest.raises(MappingFailedError) as caught:
        await run_connector(
            ConnectorSpec("items", broken_read), erp, repository, max_delete_share=0.2
        )
    await erp.close()

    assert "invalid field name" in str(caught.value)
    runs = await repository.recent_runs("items")
    assert runs[0]["status"] == "failed"
