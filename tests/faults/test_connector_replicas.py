"""Two ``retail-hub connector run items`` processes started for the same entity.

The first holds the connector's lease while the ERP responds slowly. The
second starts meanwhile, must skip (exit code 3) without reading the ERP,
and the first finishes alone. Both stores then match the hub.
"""

import asyncio
from pathlib import Path

import pytest

from hub.repository import Repository
from hub.runtime import Broker
from hub.settings import Settings
from tests.faults.connector_support import connector_case
from tests.faults.harness import ITEMS, assert_converged, running, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EXIT_SKIPPED = 3


async def test_second_replica_skips(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    store_queues: list[str],
    tmp_path: Path,
) -> None:
    async with connector_case(
        settings, repository, broker, store_queues, tmp_path, items=300
    ) as case:
        hub = case.hub
        async with hub.agent(hub.stores[0]), hub.agent(hub.stores[1]):
            start = case.erp_requests()
            assert await case.run_to_end() == 0, case.log.read_text()
            one_run = case.erp_requests() - start
            await assert_converged(repository, hub.stores)
            revision = await repository.committed_revision(ITEMS)
            case.catalogue.mutate(edit=40)

            # The first replica reads slowly until the second has given up.
            await case.set_faults(delay_seconds=2.0)
            start = case.erp_requests()
            command = case.run_command()
            async with running(command, case.log, case.environment) as first:
                await wait_until(
                    lambda: case.erp_requests() > start, "the first replica reading"
                )
                async with running(command, case.log, case.environment) as second:
                    second_exit = await asyncio.wait_for(second.wait(), timeout=60)
                await case.set_faults()
                first_exit = await asyncio.wait_for(first.wait(), timeout=60)
            both_runs = case.erp_requests() - start

            results = await assert_converged(repository, hub.stores)
            runs = await repository.recent_runs(ITEMS)

    assert first_exit == 0, case.log.read_text()
    assert second_exit == EXIT_SKIPPED
    # Only the first replica read the ERP.
    assert both_runs == one_run
    assert [run["status"] for run in runs] == ["succeeded", "succeeded"]
    assert [result.hub_revision for result in results] == [revision + 40] * 2
