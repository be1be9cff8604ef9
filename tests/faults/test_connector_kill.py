"""A ``retail-hub connector run`` process killed with SIGKILL while it reads.

The process dies while the ERP is still serving its pages, holding the
connector's lease. Nothing it read is committed or published, and both
stores keep matching the hub. Its lease blocks the entity until the lease
expires; after that, the next run brings every change to both stores.
"""

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.repository import Repository
from hub.runtime import Broker
from hub.settings import Settings
from tests.faults.connector_support import connector_case
from tests.faults.harness import ITEMS, assert_converged, running, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EXIT_SKIPPED = 3


async def test_connector_killed_mid_read(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    store_queues: list[str],
    tmp_path: Path,
) -> None:
    async with connector_case(
        settings, repository, broker, store_queues, tmp_path
    ) as case:
        hub = case.hub
        async with hub.agent(hub.stores[0]), hub.agent(hub.stores[1]):
            assert await case.run_to_end() == 0, case.log.read_text()
            before = await assert_converged(repository, hub.stores)
            revision = await repository.committed_revision(ITEMS)
            change = case.catalogue.mutate(edit=30, add=10, mark_deleted=5, remove=5)

            await case.set_faults(delay_seconds=0.5)
            served = case.erp_requests()
            async with running(case.run_command(), case.log, case.environment) as run:
                await wait_until(
                    lambda: case.erp_requests() >= served + 3, "three ERP requests"
                )
                run.send_signal(signal.SIGKILL)
                killed = await asyncio.wait_for(run.wait(), timeout=30)
            await case.set_faults()

            revision_after_kill = await repository.committed_revision(ITEMS)
            during = await assert_converged(repository, hub.stores)
            lease = await repository.db.leases.find_one({"_id": f"connector:{ITEMS}"})
            skipped = await case.run_to_end()

            # The dead process's lease would expire 60 s after its last
            # renewal; the test moves that moment into the past instead of
            # waiting for it.
            expired = datetime.now(UTC) - timedelta(seconds=1)
            await repository.db.leases.update_one(
                {"_id": f"connector:{ITEMS}"}, {"$set": {"expires_at": expired}}
            )
            finished = await case.run_to_end()
            after = await assert_converged(repository, hub.stores)
            live = await repository.live_documents(ITEMS)

    assert killed == -signal.SIGKILL
    assert revision_after_kill == revision
    assert [r.store_documents for r in during] == [r.store_documents for r in before]
    assert lease is not None
    assert skipped == EXIT_SKIPPED
    assert finished == 0, case.log.read_text()
    assert after[0].hub_revision > revision
    assert set(change.added) <= live.keys()
    assert live.keys().isdisjoint(change.removed)
    assert live.keys().isdisjoint(change.marked_deleted)
