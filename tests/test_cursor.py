"""Server-kept cursors and digests of the pull API, on the real repository."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from contracts import SCOPE_ALL, ChangeDocument, document_hash, store_scope
from hub.api import create_app
from hub.repository import PendingChange, Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from store_agent.local_store import LocalStore
from tests.delivery_support import bearer, insert_store

pytestmark = pytest.mark.integration


def _change(key: str, version: int = 1, scope: str = SCOPE_ALL) -> PendingChange:
    data = {"ref": key, "name": f"item {key} v{version}"}
    return PendingChange(key, document_hash(data), scope, data)


def _tombstone(key: str) -> PendingChange:
    return PendingChange(key, "deleted", SCOPE_ALL, None)


async def _register(
    repository: Repository,
    client: httpx.AsyncClient,
    groups: list[str] | None = None,
) -> str:
    """Register a store and make ``client`` send its token."""
    record, token = await insert_store(repository, groups, prefix="c")
    client.headers.update(bearer(token))
    return record.store_id


@pytest.fixture
async def client(
    settings: Settings, repository: Repository
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        BackgroundServer(create_app(settings, repository)) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        yield http


async def test_cursor_starts_at_zero(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)
    await repository.write_changes("items", [_change("a"), _change("b")])

    response = await client.get(f"/v1/stores/{store}/cursor/items")

    assert response.status_code == 200
    assert response.json()["revision"] == 0
    assert response.json()["hub_revision"] == 2


async def test_cursor_does_not_move_on_read(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)
    await repository.write_changes("items", [_change(f"k{i}") for i in range(5)])

    first = await client.get(f"/v1/stores/{store}/cursor/items/changes?limit=3")
    second = await client.get(f"/v1/stores/{store}/cursor/items/changes?limit=3")
    cursor = await client.get(f"/v1/stores/{store}/cursor/items")

    assert first.status_code == 200
    assert [d["rev"] for d in first.json()["documents"]] == [1, 2, 3]
    assert first.json()["has_more"] is True
    assert second.json() == first.json()
    assert cursor.json()["revision"] == 0


async def test_cursor_moves_on_ack(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)
    await repository.write_changes("items", [_change(f"k{i}") for i in range(5)])
    page = (await client.get(f"/v1/stores/{store}/cursor/items/changes?limit=3")).json()

    ack = await client.post(
        f"/v1/stores/{store}/cursor/items/ack", json={"revision": page["next_after"]}
    )
    rest = await client.get(f"/v1/stores/{store}/cursor/items/changes?limit=3")

    assert ack.status_code == 200
    assert ack.json()["revision"] == 3
    assert [d["rev"] for d in rest.json()["documents"]] == [4, 5]
    assert rest.json()["has_more"] is False
    assert rest.json()["next_after"] == 5


async def test_ack_below_cursor_is_noop(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)
    await repository.write_changes("items", [_change(f"k{i}") for i in range(4)])
    await client.post(f"/v1/stores/{store}/cursor/items/ack", json={"revision": 4})

    older = await client.post(
        f"/v1/stores/{store}/cursor/items/ack", json={"revision": 2}
    )
    cursor = await client.get(f"/v1/stores/{store}/cursor/items")

    assert older.status_code == 200
    assert older.json()["revision"] == 4
    assert cursor.json()["revision"] == 4


async def test_ack_above_committed_is_422(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)
    await repository.write_changes("items", [_change("a")])

    response = await client.post(
        f"/v1/stores/{store}/cursor/items/ack", json={"revision": 2}
    )
    cursor = await client.get(f"/v1/stores/{store}/cursor/items")

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_parameter"
    assert "revision=2" in response.json()["message"]
    assert cursor.json()["revision"] == 0


@pytest.mark.parametrize("body", [{"revision": -1}, {"revision": "x"}, {}])
async def test_invalid_ack_body_is_422(
    client: httpx.AsyncClient, repository: Repository, body: dict[str, object]
) -> None:
    store = await _register(repository, client)

    response = await client.post(f"/v1/stores/{store}/cursor/items/ack", json=body)

    assert response.status_code == 422
    assert "revision" in response.json()["message"]


async def test_cursors_are_per_store(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store, token = await insert_store(repository, prefix="c")
    other, other_token = await insert_store(repository, prefix="c")
    await repository.write_changes("items", [_change("a"), _change("b")])

    await client.post(
        f"/v1/stores/{store.store_id}/cursor/items/ack",
        json={"revision": 2},
        headers=bearer(token),
    )
    theirs = await client.get(
        f"/v1/stores/{other.store_id}/cursor/items", headers=bearer(other_token)
    )

    assert theirs.json()["revision"] == 0
    assert await repository.db.cursors.count_documents({}) == 1


async def test_cursor_of_unknown_entity_is_404(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)

    response = await client.get(f"/v1/stores/{store}/cursor/spaceships")

    assert response.status_code == 404
    assert response.json()["error"] == "entity_not_found"


def _documents(page: dict[str, object]) -> list[ChangeDocument]:
    documents = page["documents"]
    assert isinstance(documents, list)
    return [ChangeDocument.model_validate(document) for document in documents]


async def test_digest_matches_local_copy(
    client: httpx.AsyncClient, repository: Repository, tmp_path: Path
) -> None:
    store = await _register(repository, client, ["msk"])
    await repository.write_changes(
        "items",
        [_change("a"), _change("b"), _change("c"), _change("x", scope="group.spb")],
    )
    await repository.write_changes("items", [_change("a", 2), _tombstone("c")])
    await repository.write_changes("items", [_change("own", scope=store_scope(store))])
    page = (await client.get(f"/v1/stores/{store}/changes/items")).json()

    with LocalStore(tmp_path / "store.sqlite3") as local:
        local.apply("items", _documents(page), page["next_after"])
        local_digest = local.digest("items")
        response = await client.get(f"/v1/stores/{store}/digest/items")

        assert response.status_code == 200
        assert response.json() == local_digest.model_dump()
        assert response.json()["count"] == 3
        assert response.json()["revision"] == 7

        # A store that lost a document sees a different digest.
        local.apply(
            "items",
            [ChangeDocument(key="b", rev=99, deleted=True, hash="deleted", data=None)],
        )
        assert local.digest("items", 7).sha256 != response.json()["sha256"]


async def test_digest_at_older_revision(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = await _register(repository, client)
    await repository.write_changes("items", [_change("a"), _change("b")])
    await repository.write_changes("items", [_change("c")])

    older = await client.get(f"/v1/stores/{store}/digest/items?revision=2")
    above = await client.get(f"/v1/stores/{store}/digest/items?revision=99")

    assert older.json()["count"] == 2
    assert older.json()["revision"] == 2
    assert above.json()["count"] == 3
    assert above.json()["revision"] == 3
