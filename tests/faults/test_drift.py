"""A store's SQLite copy edited behind its agent's back, found and repaired.

One row gets other data and hash under the same revision, one is deleted
and a stray one is added: revisions alone cannot show any of it. The
``retail-hub verify`` process finds the three keys and with ``--repair``
restores the hub's versions, after which both stores match the hub.
"""

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from hub.repository import Repository
from hub.runtime import Broker, publish
from hub.settings import Settings
from tests.faults.connector_support import RETAIL_HUB
from tests.faults.harness import (
    ITEMS,
    assert_converged,
    compare_all,
    hub_environment,
    running,
    serve_hub,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ITEM_COUNT = 300


def _drift(database: Path) -> None:
    connection = sqlite3.connect(database)
    with connection:
        connection.execute(
            "UPDATE documents SET data = ?, hash = ? WHERE key = 'k010'",
            (json.dumps({"edited": True}), "0" * 64),
        )
        connection.execute("DELETE FROM documents WHERE key = 'k020'")
        connection.execute(
            "INSERT INTO documents (entity, key, rev, deleted, hash, data)"
            " VALUES (?, 'stray', 5, 0, ?, ?)",
            (ITEMS, "1" * 64, json.dumps({"stray": True})),
        )
    connection.close()


async def test_verify_repairs_drift(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    store_queues: list[str],
    tmp_path: Path,
) -> None:
    async with serve_hub(settings, repository, tmp_path, store_queues) as hub:
        healthy = await hub.add_store("amqp", broker.channel, broker.exchange)
        drifted = await hub.add_store("pull")
        await hub.commit([f"k{i:03d}" for i in range(ITEM_COUNT)], 1)
        await publish(hub.settings, repository, broker, ITEMS)
        async with hub.agent(healthy), hub.agent(drifted):
            await assert_converged(repository, hub.stores)

        await asyncio.to_thread(_drift, drifted.database)
        found = await compare_all(repository, hub.stores)

        environment = hub_environment(hub.settings)
        verify = [RETAIL_HUB, "verify", "--store", drifted.store_id]
        verify += ["--entity", ITEMS, "--database", str(drifted.database)]
        log = tmp_path / "verify.log"
        async with running(verify, log, environment) as process:
            differs = await process.wait()
        async with running([*verify, "--repair"], log, environment) as process:
            repaired = await process.wait()
        async with running(verify, log, environment) as process:
            matches = await process.wait()
        results = await assert_converged(repository, hub.stores)

    assert found[0].converged
    assert found[1].different == ["k010"]
    assert found[1].missing == ["k020"]
    assert found[1].extra == ["stray"]
    assert differs == 1, log.read_text()
    assert repaired == 0, log.read_text()
    assert matches == 0, log.read_text()
    assert "repaired" in log.read_text()
    assert [result.store_documents for result in results] == [ITEM_COUNT] * 2
