"""Unit tests of the store agent's SQLite local copy and its input checks."""

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts import ChangeDocument, document_hash
from store_agent.local_store import ApplyResult, LocalStore
from store_agent.validation import InvalidChangesError, check_documents, parse_batch
from tests.test_store_agent_support import batch_of, item_data, live, tombstone


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    with LocalStore(tmp_path / "store.sqlite3") as local_store:
        yield local_store


def test_newer_version_applies(store: LocalStore) -> None:
    store.apply("items", [live("a", 1, "Old name")])

    result = store.apply("items", [live("a", 2, "New name")])

    assert result == ApplyResult(applied=1, skipped_stale=0)
    stored = store.document("items", "a")
    assert stored is not None
    assert stored.rev == 2
    assert stored.data is not None
    assert stored.data["name"] == "New name"


@pytest.mark.parametrize("stale_rev", [1, 5])
def test_older_or_equal_version_skipped(store: LocalStore, stale_rev: int) -> None:
    store.apply("items", [live("a", 5, "Current")])

    result = store.apply("items", [live("a", stale_rev, "Stale")])

    assert result == ApplyResult(applied=0, skipped_stale=1)
    stored = store.document("items", "a")
    assert stored is not None
    assert stored.rev == 5
    assert stored.data is not None
    assert stored.data["name"] == "Current"


def test_tombstone_blocks_older_replay(store: LocalStore) -> None:
    store.apply("items", [live("a", 1), live("b", 2)])
    store.apply("items", [tombstone("a", 3)])

    result = store.apply("items", [live("a", 1), live("a", 2)])

    assert result == ApplyResult(applied=0, skipped_stale=2)
    stored = store.document("items", "a")
    assert stored is not None
    assert stored.deleted
    assert stored.data is None
    assert stored.rev == 3
    assert "a" not in store.live_documents("items")
    assert store.count("items") == 1


def test_newer_version_revives_tombstone(store: LocalStore) -> None:
    store.apply("items", [live("a", 1), tombstone("a", 2)])

    store.apply("items", [live("a", 3)])

    assert set(store.live_documents("items")) == {"a"}


def test_same_batch_twice_changes_nothing(store: LocalStore) -> None:
    documents = [live("a", 1), live("b", 2), tombstone("a", 3), live("c", 4)]
    first = store.apply("items", documents)
    snapshot = store.live_documents("items")

    second = store.apply("items", documents)

    assert first == ApplyResult(applied=4, skipped_stale=0)
    assert second == ApplyResult(applied=0, skipped_stale=4)
    assert store.live_documents("items") == snapshot
    assert store.applied_revision("items") == 4


def test_applied_revision_is_monotonic(store: LocalStore) -> None:
    assert store.applied_revision("items") == 0

    store.apply("items", [live("a", 10)])
    store.apply("items", [live("b", 4)])
    assert store.applied_revision("items") == 10

    store.apply("items", [], revision=7)
    assert store.applied_revision("items") == 10

    store.apply("items", [], revision=12)
    assert store.applied_revision("items") == 12


def test_counts_live_documents_per_entity(store: LocalStore) -> None:
    store.apply("items", [live("a", 1), live("b", 2), live("c", 3)])
    store.apply("items", [tombstone("b", 4)])
    store.apply("prices", [live("a", 1)])

    status = store.status("items")

    assert store.count("items") == 2
    assert store.count("prices") == 1
    assert store.count("unknown") == 0
    assert status.documents == 2
    assert status.tombstones == 1
    assert status.applied_revision == 4
    assert store.entities() == ["items", "prices"]


def test_live_documents_keep_rev_hash_data(store: LocalStore) -> None:
    document = live("a", 7, "Bread")
    store.apply("items", [document])

    stored = store.live_documents("items")["a"]

    assert stored.rev == 7
    assert stored.hash == document.hash
    assert stored.data == document.data
    assert not stored.deleted


def test_failed_apply_writes_nothing(store: LocalStore) -> None:
    store.apply("items", [live("a", 1)])
    # A trigger makes the second row of the next batch fail mid-transaction.
    with sqlite3.connect(store.path) as other:
        other.execute(
            "CREATE TRIGGER fail_on_boom BEFORE INSERT ON documents"
            " WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
        )
    other.close()

    with pytest.raises(sqlite3.IntegrityError, match="simulated failure"):
        store.apply("items", [live("b", 2), live("boom", 3)])

    assert store.document("items", "b") is None
    assert store.count("items") == 1
    assert store.applied_revision("items") == 1
    assert store.apply("items", [live("b", 4)]).applied == 1


def test_data_stored_as_compact_json_text(store: LocalStore) -> None:
    # Earlier versions stored the text of json.dumps with these options, and
    # old and new rows must read the same.
    data = {
        "name": "Масло «Север» 100\u00a0мл",
        "quote": 'a "b" \\ c\nd\te\u0001',
        "weight_kg": 0.115,
        "large": 1e16,
        "big": 2**70,
        "count": -3,
        "flags": [True, False, None],
        "nested": {"barcodes": ["4608987139773"], "empty": {}},
    }
    document = ChangeDocument(
        key="a", rev=1, deleted=False, hash=document_hash(data), data=data
    )
    store.apply("items", [document])

    with sqlite3.connect(store.path) as reader:
        text, kind = reader.execute(
            "SELECT data, typeof(data) FROM documents WHERE key = 'a'"
        ).fetchone()
    reader.close()

    assert kind == "text"
    assert text == json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    stored = store.document("items", "a")
    assert stored is not None
    assert stored.data == data


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path) as first:
        first.apply("items", [live("a", 1), tombstone("b", 2)])

    with LocalStore(path) as second:
        assert second.count("items") == 1
        assert second.applied_revision("items") == 2


def test_applies_100k_documents(store: LocalStore) -> None:
    data = item_data("x")
    digest = document_hash(data)
    documents = [
        ChangeDocument(key=f"k{i}", rev=i + 1, deleted=False, hash=digest, data=data)
        for i in range(100_000)
    ]

    result = store.apply("items", documents)

    # The speed of apply is measured by the agent_apply benchmark row.
    assert result.applied == 100_000
    assert store.count("items") == 100_000
    assert store.applied_revision("items") == 100_000


def test_parse_batch_accepts_valid_batch() -> None:
    batch = batch_of([live("a", 1), tombstone("b", 2)])

    parsed = parse_batch(batch.model_dump_json().encode(), "items")

    assert parsed == batch


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "Invalid JSON"),
        (b'{"hello": "world"}', "entity: Field required"),
        (batch_of([live("a", 1)], entity="prices").model_dump_json(), "entity"),
        (
            batch_of([live("a", 1)])
            .model_copy(update={"schema_version": 99})
            .model_dump_json(),
            "schema_version 99",
        ),
        (
            batch_of([live("a", 1)]).model_copy(update={"rev_to": 0}).model_dump_json(),
            "outside",
        ),
    ],
)
def test_parse_batch_rejects_bad_body(body: bytes | str, reason: str) -> None:
    raw = body.encode() if isinstance(body, str) else body

    with pytest.raises(InvalidChangesError, match=reason):
        parse_batch(raw, "items")


def test_check_documents_rejects_bad_hash() -> None:
    document = live("a", 1).model_copy(update={"hash": "0" * 64})

    with pytest.raises(InvalidChangesError, match="'a' has a hash"):
        check_documents("items", [document])


def test_check_documents_rejects_invalid_item() -> None:
    data = {"ref": "a"}
    document = ChangeDocument(
        key="a", rev=1, deleted=False, hash=document_hash(data), data=data
    )

    with pytest.raises(InvalidChangesError, match="not a valid items document"):
        check_documents("items", [document])


def test_check_documents_rejects_tombstone_with_data() -> None:
    document = tombstone("a", 1).model_copy(update={"data": item_data("a")})

    with pytest.raises(InvalidChangesError, match="tombstone 'a' carries data"):
        check_documents("items", [document])
