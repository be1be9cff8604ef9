"""The revisions of each scope, read from the real repository."""

import pytest

from hub.repository import Repository
from monitor.scopes import ScopeRevisions

pytestmark = pytest.mark.integration

ITEMS = "items"
A = ["all", "store.a"]
B = ["all", "store.b"]


async def _insert(repository: Repository, rows: list[tuple[int, str | None]]) -> None:
    documents = []
    for revision, scope in rows:
        document = {"entity": ITEMS, "key": f"k{revision}", "rev": revision}
        if scope is not None:
            document["scope"] = scope
        documents.append(document)
    await repository.db.documents.insert_many(documents)


async def test_lag_counts_revisions_of_own_scopes(repository: Repository) -> None:
    await _insert(repository, [(1, "store.a"), (2, "store.b"), (3, "all")])
    scopes = ScopeRevisions()

    await scopes.read(repository, {ITEMS: 3})

    assert scopes.lag(ITEMS, A, 0).revisions == 2
    assert scopes.lag(ITEMS, A, 0).first == 1
    assert scopes.lag(ITEMS, A, 1).revisions == 1
    assert scopes.lag(ITEMS, A, 1).first == 3
    assert scopes.lag(ITEMS, B, 3).revisions == 0
    assert scopes.lag(ITEMS, B, 3).first is None


async def test_uncommitted_revisions_are_left_out(repository: Repository) -> None:
    await _insert(repository, [(1, "store.a"), (2, "store.a")])
    scopes = ScopeRevisions()

    await scopes.read(repository, {ITEMS: 1})
    first = scopes.lag(ITEMS, A, 0).revisions
    await scopes.read(repository, {ITEMS: 2})

    assert first == 1
    assert scopes.lag(ITEMS, A, 0).revisions == 2


async def test_revision_going_back_reads_again(repository: Repository) -> None:
    await _insert(repository, [(1, "store.a"), (2, "store.a"), (3, "store.b")])
    scopes = ScopeRevisions()
    await scopes.read(repository, {ITEMS: 3})
    # A restore: the repository is back at revision 2, and revision 3 of
    # store b is gone.
    await repository.db.documents.delete_many({"rev": 3})
    await _insert(repository, [(3, "store.a")])

    await scopes.read(repository, {ITEMS: 2})
    at_two = scopes.lag(ITEMS, B, 0).revisions
    await scopes.read(repository, {ITEMS: 3})

    assert at_two == 0
    assert scopes.lag(ITEMS, A, 0).revisions == 3
    assert scopes.lag(ITEMS, B, 0).revisions == 0


async def test_document_without_scope_counts_for_all(repository: Repository) -> None:
    await _insert(repository, [(1, None), (2, "store.b")])
    scopes = ScopeRevisions()

    await scopes.read(repository, {ITEMS: 2})

    assert scopes.lag(ITEMS, A, 0).revisions == 1
    assert scopes.lag(ITEMS, B, 0).revisions == 2


async def test_oldest_revisions_beyond_keep_are_dropped(
    repository: Repository,
) -> None:
    await _insert(repository, [(revision, "store.a") for revision in range(1, 6)])
    scopes = ScopeRevisions(keep=3)

    await scopes.read(repository, {ITEMS: 5})

    assert scopes.lag(ITEMS, A, 0).revisions == 3
    assert scopes.lag(ITEMS, A, 0).first == 3
