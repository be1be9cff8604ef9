"""What the repository keeps in memory matches what it stores."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect

from connectors.diff import diff_snapshot
from connectors.mapping import MappingResult
from contracts import SCOPE_ALL, document_hash, group_scope
from hub import repository as repository_module
from hub.errors import RepositoryUnavailableError
from hub.repository import ChangeRow, PendingChange, Repository
from hub.settings import Settings

pytestmark = pytest.mark.integration

ITEMS = "items"


def _mapping(names: dict[str, str], scope: str = SCOPE_ALL) -> MappingResult:
    documents = {
        key: (scope, {"ref": key, "name": name}) for key, name in names.items()
    }
    return MappingResult(documents, set(), [])


@pytest.fixture
async def second(settings: Settings) -> AsyncIterator[Repository]:
    """Another process's repository client on the same database."""
    other = Repository.from_settings(settings)
    yield other
    await other.close()


async def _rows(repository: Repository, after: int, up_to: int) -> list[ChangeRow]:
    rows: list[ChangeRow] = []
    async for chunk in repository.iter_changes_with_scope(ITEMS, after, 2, up_to=up_to):
        rows += chunk
    return rows


async def test_written_rows_equal_stored_rows(
    repository: Repository, second: Repository
) -> None:
    names = {"plain": "Мыло «Липа»", 'quote"key': "tab\there", "emoji": "🌿 gel"}
    diff = diff_snapshot({}, _mapping(names, group_scope("msk")))
    last = await repository.write_changes(ITEMS, diff.changes)

    from_memory = await _rows(repository, 0, last)
    from_server = await _rows(second, 0, last)

    assert all(row.body is not None for row in from_memory)
    assert all(row.body is None for row in from_server)
    assert [row.scope for row in from_memory] == [row.scope for row in from_server]
    assert [json.loads(row.encode()) for row in from_memory] == [
        json.loads(row.encode()) for row in from_server
    ]


async def test_index_reread_after_other_writer(
    repository: Repository, second: Repository
) -> None:
    first = diff_snapshot({}, _mapping({"a": "one", "b": "two"}))
    await repository.write_changes(ITEMS, first.changes)
    cached = await repository.load_index(ITEMS)

    data = {"ref": "a", "name": "changed elsewhere"}
    await second.write_changes(
        ITEMS, [PendingChange("a", document_hash(data), SCOPE_ALL, data)]
    )
    after = await repository.load_index(ITEMS)

    assert cached["a"].hash == document_hash({"ref": "a", "name": "one"})
    assert after["a"].hash == document_hash(data)
    assert after["b"] == cached["b"]


async def test_index_follows_own_writes(
    repository: Repository, second: Repository
) -> None:
    await repository.write_changes(
        ITEMS, diff_snapshot({}, _mapping({"a": "one", "b": "two"})).changes
    )
    index = await repository.load_index(ITEMS)
    changes = diff_snapshot(index, _mapping({"a": "one, again"})).changes
    await repository.write_changes(ITEMS, changes)

    assert await repository.load_index(ITEMS) == await second.load_index(ITEMS)


async def test_compaction_waits_for_threshold(repository: Repository) -> None:
    keys = {f"k{i}": "v1" for i in range(10)}
    await repository.write_changes(ITEMS, diff_snapshot({}, _mapping(keys)).changes)
    index = await repository.load_index(ITEMS)
    changed = {key: "v2" for key in keys}
    await repository.write_changes(
        ITEMS, diff_snapshot(index, _mapping(changed)).changes
    )

    skipped = await repository.compact_if_needed(ITEMS, documents=10)
    stored_before = await repository.db.documents.count_documents({})
    compacted = await repository.compact(ITEMS)
    stored_after = await repository.db.documents.count_documents({})

    assert skipped == 0
    assert stored_before == 20
    assert compacted == 10
    assert stored_after == 10


async def test_index_read_keeps_committed_versions(
    repository: Repository, second: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    await repository.write_changes(
        ITEMS, diff_snapshot({}, _mapping({"a": "one", "b": "two"})).changes
    )
    index = await repository.load_index(ITEMS)
    changes = diff_snapshot(index, _mapping({"a": "one, v2", "b": "two, v2"})).changes

    # The write stops after its first insert batch, as if the server died.
    inserts = 0
    insert_many = AsyncCollection.insert_many

    async def insert_then_fail(
        self: AsyncCollection[Any], *args: Any, **kwargs: Any
    ) -> Any:
        nonlocal inserts
        inserts += 1
        if inserts > 1:
            raise AutoReconnect("connection closed")
        return await insert_many(self, *args, **kwargs)

    monkeypatch.setattr(repository_module, "_WRITE_CHUNK", 1)
    monkeypatch.setattr(AsyncCollection, "insert_many", insert_then_fail)
    with pytest.raises(RepositoryUnavailableError):
        await repository.write_changes(ITEMS, changes)
    monkeypatch.undo()

    # The next run reads the index, which counts the uncommitted version of
    # "a". Readers must still see the committed one until the next commit.
    index = await second.load_index(ITEMS)
    live = await second.live_documents(ITEMS)

    assert inserts == 2
    assert index["a"].hash == document_hash({"ref": "a", "name": "one, v2"})
    assert sorted(live) == ["a", "b"]
    assert live["a"].data == {"ref": "a", "name": "one"}
    assert live["a"].rev == 1


async def test_scope_move_leaves_old_scope_at_once(repository: Repository) -> None:
    msk, spb = group_scope("msk"), group_scope("spb")
    first = diff_snapshot({}, _mapping({"a": "one", "b": "two"}, msk))
    await repository.write_changes(ITEMS, first.changes)
    index = await repository.load_index(ITEMS)
    moved = diff_snapshot(index, _mapping({"a": "one", "b": "two"}, spb))
    last = await repository.write_changes(ITEMS, moved.changes)

    in_msk = await repository.changes_after(ITEMS, 0, 10, up_to=last, scopes=[msk])
    in_spb = await repository.changes_after(ITEMS, 0, 10, up_to=last, scopes=[spb])

    assert [change.moves_scope for change in moved.changes] == [True, True]
    assert in_msk == []
    assert [(doc.key, doc.rev) for doc in in_spb] == [("a", 3), ("b", 4)]
