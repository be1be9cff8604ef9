"""Verification of store copies: digests, bucket narrowing and repair.

The narrowing test runs in memory on 100,000 documents. The integration
tests plant a drift of three documents in a store of 2,000 items on the real
FerretDB: two rows edited behind the agent's back, one deleted.
"""

import asyncio
import hashlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contracts import ChangeDocument
from contracts.buckets import LEAF_SIZE, BucketsAnswer, answer_buckets, narrow_down
from hub.api import create_app
from hub.cli import main
from hub.repository import Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord
from hub.verify import verify_reported, verify_store
from store_agent.heartbeat import HeartbeatLoop
from store_agent.local_store import LocalStore
from store_agent.puller import Puller
from store_agent.verify import check_entity
from tests.delivery_support import bearer, insert_store, item_change

ITEMS = "items"
STORE_ITEMS = 2000
logger = logging.getLogger(__name__)


def _fake_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_narrowing_hundred_thousand_items() -> None:
    hub = {f"item-{i:06d}": _fake_hash(f"v1-{i}") for i in range(100_000)}
    store = dict(hub)
    store["item-000017"] = _fake_hash("edited behind the agent's back")
    store["item-054321"] = _fake_hash("edited too")
    del store["item-099999"]
    store["item-stray"] = _fake_hash("only in the store")

    async def fetch(prefix: str) -> BucketsAnswer:
        return answer_buckets(ITEMS, 7, hub, prefix)

    found = await narrow_down(store, fetch, ITEMS, 7)

    assert found.different == ["item-000017", "item-054321"]
    assert found.missing == ["item-099999"]
    assert found.extra == ["item-stray"]
    # Measured: 224 hashes in 12 requests for these four keys.
    logger.info("hashes exchanged: %d in %d requests", found.hashes, found.requests)
    print(f"hashes exchanged: {found.hashes} in {found.requests} requests")
    assert found.hashes < 500
    assert found.requests < 20


async def test_narrowing_equal_copies_one_request() -> None:
    hub = {f"k{i}": _fake_hash(str(i)) for i in range(1000)}

    async def fetch(prefix: str) -> BucketsAnswer:
        return answer_buckets(ITEMS, 1, hub, prefix)

    found = await narrow_down(dict(hub), fetch, ITEMS, 1)

    assert found.differing == 0
    assert found.requests == 1


def test_small_bucket_is_sent_as_keys() -> None:
    documents = {f"k{i}": "h" for i in range(LEAF_SIZE)}

    answer = answer_buckets(ITEMS, 1, documents, "")

    assert answer.documents == documents
    assert answer.buckets is None


def test_invalid_prefix_rejected() -> None:
    with pytest.raises(ValueError, match="invalid bucket prefix"):
        answer_buckets(ITEMS, 1, {}, "XY")


def test_repair_overwrites_equal_revision(tmp_path: Path) -> None:
    good = ChangeDocument(key="a", rev=3, deleted=False, hash="h1", data={"n": 1})
    with LocalStore(tmp_path / "s.sqlite3") as local:
        local.apply(ITEMS, [good])
        _edit_row(local.path, "a")
        assert local.apply(ITEMS, [good]).applied == 0

        written = local.repair(ITEMS, [good], removed_keys=["stray"])
        held = local.document(ITEMS, "a")

    assert written == 1
    assert held is not None
    assert held.hash == "h1"
    assert held.data == {"n": 1}


def test_repair_buries_removed_keys(tmp_path: Path) -> None:
    stray = ChangeDocument(key="s", rev=2, deleted=False, hash="h", data={"n": 1})
    with LocalStore(tmp_path / "s.sqlite3") as local:
        local.apply(ITEMS, [stray])
        local.repair(ITEMS, [], removed_keys=["s"])
        held = local.document(ITEMS, "s")
        count = local.count(ITEMS)

    assert held is not None
    assert held.deleted
    assert held.rev == 2
    assert count == 0


def _edit_row(database: Path, key: str) -> None:
    """Change a row's data and hash, keeping its revision, as a bad tool would."""
    connection = sqlite3.connect(database)
    with connection:
        connection.execute(
            "UPDATE documents SET data = ?, hash = ? WHERE key = ?",
            (json.dumps({"edited": True}), _fake_hash(key), key),
        )
    connection.close()


def _delete_row(database: Path, key: str) -> None:
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("DELETE FROM documents WHERE key = ?", (key,))
    connection.close()


@dataclass
class DriftedStore:
    settings: Settings
    repository: Repository
    store: StoreRecord
    token: str
    api_url: str
    database: Path
    drifted: list[str]


@pytest.fixture
async def drifted(
    settings: Settings, repository: Repository, tmp_path: Path
) -> AsyncIterator[DriftedStore]:
    """A store that pulled 2,000 items, then lost one row and had two edited."""
    keys = [f"item-{i:05d}" for i in range(STORE_ITEMS)]
    await repository.write_changes(ITEMS, [item_change(key) for key in keys])
    store, token = await insert_store(repository, prefix="v")
    database = tmp_path / "store.sqlite3"
    async with BackgroundServer(create_app(settings, repository)) as api:
        with LocalStore(database) as local:
            async with Puller(api.url, store.store_id, local, token=token) as puller:
                await puller.pull_once(ITEMS)
        drifted = [keys[10], keys[1500], keys[777]]
        _edit_row(database, drifted[0])
        _edit_row(database, drifted[1])
        _delete_row(database, drifted[2])
        yield DriftedStore(
            settings, repository, store, token, api.url, database, drifted
        )


@pytest.mark.integration
async def test_verify_store_finds_drift(drifted: DriftedStore) -> None:
    with LocalStore(drifted.database) as local:
        row = await verify_store(drifted.repository, drifted.store, ITEMS, local)

    assert row.status == "differs"
    assert row.different == sorted(drifted.drifted[:2])
    assert row.missing == [drifted.drifted[2]]
    assert row.extra == []
    assert row.store_count == STORE_ITEMS - 1
    assert row.hub_count == STORE_ITEMS
    assert 2 < row.hashes < 400


@pytest.mark.integration
async def test_verify_cli_repairs_drift(
    drifted: DriftedStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RETAIL_HUB_MONGO_DATABASE", drifted.settings.mongo_database)
    store_id = drifted.store.store_id
    arguments = ["verify", "--store", store_id, "--entity", ITEMS]
    arguments += ["--database", str(drifted.database)]

    # main() runs its own event loop, so it runs in a thread of its own.
    found = await asyncio.to_thread(main, [*arguments, "--json"])
    first = json.loads(capsys.readouterr().out)
    repaired = await asyncio.to_thread(main, [*arguments, "--repair"])
    table = capsys.readouterr().out
    again = await asyncio.to_thread(main, arguments)
    after = capsys.readouterr().out

    assert found == 1
    assert first[0]["status"] == "differs"
    assert first[0]["differing"] == 3
    assert repaired == 0
    assert "repaired" in table
    assert again == 0
    assert " match " in after
    print(table)


@pytest.mark.integration
async def test_agent_self_check_repairs_drift(drifted: DriftedStore) -> None:
    headers = bearer(drifted.token)
    async with httpx.AsyncClient(base_url=drifted.api_url, headers=headers) as client:
        with LocalStore(drifted.database) as local:
            result = await check_entity(client, drifted.store.store_id, local, ITEMS)
            again = await check_entity(client, drifted.store.store_id, local, ITEMS)
            restored = local.document(ITEMS, drifted.drifted[2])

    assert result.status == "repaired"
    assert result.differing == 3
    assert result.hashes < 400
    assert again.status == "match"
    assert again.hashes == 1
    assert restored is not None
    print(f"self-check: {result.hashes} hashes in {result.requests} requests")


@pytest.mark.integration
async def test_heartbeat_digest_shows_drift(drifted: DriftedStore) -> None:
    headers = bearer(drifted.token)
    async with httpx.AsyncClient(base_url=drifted.api_url, headers=headers) as client:
        with LocalStore(drifted.database) as local:

            async def no_pull(entity: str, after: int | None) -> bool:
                return False

            loop = HeartbeatLoop(
                client, drifted.store.store_id, "pull", [ITEMS], local, no_pull, 30
            )
            assert await loop.send_once() is not None
            digest = local.digest(ITEMS)

    state = await drifted.repository.db.store_state.find_one(
        {"_id": drifted.store.store_id}
    )
    assert state is not None
    reported = state["heartbeat"]["digests"][ITEMS]
    assert reported["sha256"] == digest.sha256
    row = await verify_reported(drifted.repository, drifted.store, ITEMS, digest)
    assert row.status == "differs"
    assert row.store_count == STORE_ITEMS - 1
