"""Property tests: any run of ERP snapshots reaches every store intact.

A run of snapshots (random keys and contents, with deletions and
re-additions) goes through ``connectors.diff.diff_snapshot`` and a small
model of the repository's revision counter. Stores apply the resulting
versions in any order, with duplicates, through ``LocalStore.apply``, and
must end equal to the last snapshot. A slower variant writes through the
real ``Repository`` on FerretDB.
"""

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.diff import diff_snapshot
from connectors.mapping import MappingResult
from contracts import SCOPE_ALL, ChangeDocument
from hub.repository import IndexEntry, PendingChange, Repository
from store_agent.local_store import LocalStore

ENTITY = "items"
KEYS = [f"k{i}" for i in range(8)]

Snapshot = dict[str, int]

snapshots = st.lists(
    st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3), max_size=len(KEYS)),
    min_size=1,
    max_size=6,
)


def _data(key: str, content: int) -> dict[str, Any]:
    return {"ref": key, "content": content}


def _mapped(snapshot: Snapshot) -> MappingResult:
    documents = {key: (SCOPE_ALL, _data(key, n)) for key, n in snapshot.items()}
    return MappingResult(documents=documents)


@dataclass
class ModelRepository:
    """The repository's revision rule: each change gets the next revision."""

    revision: int = 0
    latest: dict[str, ChangeDocument] = field(default_factory=dict)
    history: list[ChangeDocument] = field(default_factory=list)

    def index(self) -> dict[str, IndexEntry]:
        return {
            key: IndexEntry(doc.hash, doc.deleted, SCOPE_ALL)
            for key, doc in self.latest.items()
        }

    def write(self, changes: list[PendingChange]) -> None:
        for change in changes:
            self.revision += 1
            version = ChangeDocument(
                key=change.key,
                rev=self.revision,
                deleted=change.deleted,
                hash=change.hash,
                data=change.data,
            )
            self.latest[change.key] = version
            self.history.append(version)


def _expected(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    return {key: _data(key, n) for key, n in snapshot.items()}


def _held(local: LocalStore) -> dict[str, dict[str, Any] | None]:
    return {key: doc.data for key, doc in local.live_documents(ENTITY).items()}


@settings(max_examples=150, deadline=None)
@given(run=snapshots, data=st.data())
def test_any_delivery_order_converges(run: list[Snapshot], data: st.DataObject) -> None:
    repository = ModelRepository()
    for snapshot in run:
        repository.write(diff_snapshot(repository.index(), _mapped(snapshot)).changes)

    # Every version, in any order, some of them twice (AMQP redeliveries).
    versions = repository.history
    repeats = (
        data.draw(st.lists(st.sampled_from(versions), max_size=10)) if versions else []
    )
    delivered = data.draw(st.permutations(versions + repeats))
    # Only the latest versions, as a pull after downtime sends them.
    pulled = data.draw(st.permutations(list(repository.latest.values())))

    for documents in (delivered, pulled):
        with LocalStore(Path(":memory:")) as local:
            split = data.draw(st.integers(0, len(documents)))
            local.apply(ENTITY, documents[:split])
            local.apply(ENTITY, documents[split:])
            assert _held(local) == _expected(run[-1])
            assert local.applied_revision(ENTITY) == repository.revision


@settings(max_examples=100, deadline=None)
@given(run=snapshots)
def test_unchanged_snapshot_writes_nothing(run: list[Snapshot]) -> None:
    repository = ModelRepository()
    for snapshot in run:
        repository.write(diff_snapshot(repository.index(), _mapped(snapshot)).changes)

    again = diff_snapshot(repository.index(), _mapped(run[-1]))

    assert again.changes == []


@pytest.mark.integration
async def test_real_repository_converges(
    repository: Repository, tmp_path: Path
) -> None:
    # One seeded run of five snapshots keeps the FerretDB round trips few.
    rng = random.Random(20240611)
    run = [
        {key: rng.randint(0, 3) for key in KEYS if rng.random() < 0.7} for _ in range(5)
    ]
    for snapshot in run:
        index = await repository.load_index(ENTITY)
        await repository.write_changes(
            ENTITY, diff_snapshot(index, _mapped(snapshot)).changes
        )
    committed = await repository.committed_revision(ENTITY)
    documents = await repository.changes_after(ENTITY, 0, 1000, up_to=committed)
    rng.shuffle(documents)

    with LocalStore(tmp_path / "s.sqlite3") as local:
        local.apply(ENTITY, documents + documents[:3])
        held = _held(local)

    assert held == _expected(run[-1])
