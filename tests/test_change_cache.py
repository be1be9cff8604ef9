"""Pages from the pull API's change cache equal pages read from the repository."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contracts import SCOPE_ALL, document_hash, group_scope, store_scope
from hub.api import create_app
from hub.api.change_cache import ChangeCache, _SingleFlight
from hub.credentials import hash_token, new_secret
from hub.repository import PendingChange, Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord
from tests.conftest import unique

pytestmark = pytest.mark.integration

TOKEN = new_secret()
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}
CACHE_DOCUMENTS = 12


def _change(key: str, scope: str, version: int = 1) -> PendingChange:
    data = {"ref": key, "name": f"item {key} v{version}"}
    return PendingChange(key, document_hash(data), scope, data, replaces=version > 1)


def _tombstone(key: str, scope: str) -> PendingChange:
    return PendingChange(key, "deleted", scope, None)


@pytest.fixture
async def clients(
    settings: Settings, repository: Repository
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A client of an API with a small change cache, and one of an API without."""
    # Each test sends hundreds of requests for two stores.
    unlimited = {"api_rate_per_second": 10_000.0, "api_rate_burst": 10_000}
    cached = settings.model_copy(
        update={"api_cache_documents": CACHE_DOCUMENTS, **unlimited}
    )
    uncached = settings.model_copy(update={"api_cache_documents": 0, **unlimited})
    async with (
        BackgroundServer(create_app(cached, repository)) as with_cache,
        BackgroundServer(create_app(uncached, repository)) as without_cache,
        httpx.AsyncClient(base_url=with_cache.url, headers=AUTHORIZATION) as first,
        httpx.AsyncClient(base_url=without_cache.url, headers=AUTHORIZATION) as second,
    ):
        yield first, second


async def _register(repository: Repository, groups: list[str]) -> str:
    store_id = unique("c")
    record = StoreRecord(store_id=store_id, name=store_id, groups=groups)
    fields = record.model_dump(exclude={"store_id"})
    await repository.db.stores.insert_one(
        {"_id": store_id, **fields, "token_hash": hash_token(TOKEN)}
    )
    return store_id


async def _pages(
    client: httpx.AsyncClient, store_id: str, after: int, limit: int
) -> list[dict[str, Any]]:
    pages = []
    while True:
        response = await client.get(
            f"/v1/stores/{store_id}/changes/items",
            params={"after": after, "limit": limit},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        if not page["has_more"]:
            return pages
        after = page["next_after"]


async def test_cached_pages_equal_repository_pages(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], repository: Repository
) -> None:
    with_cache, without_cache = clients
    msk = await _register(repository, ["msk"])
    spb = await _register(repository, ["spb"])
    await repository.write_changes(
        "items",
        [_change(f"all-{i}", SCOPE_ALL) for i in range(6)]
        + [_change(f"msk-{i}", group_scope("msk")) for i in range(4)]
        + [_change("own", store_scope(msk))],
    )
    # Warm the cache, then commit more: the next pages must include them.
    await _pages(with_cache, msk, 0, 3)
    await repository.write_changes(
        "items",
        [_change("all-1", SCOPE_ALL, 2), _tombstone("msk-2", group_scope("msk"))]
        + [_change(f"spb-{i}", group_scope("spb")) for i in range(9)],
    )

    # The cache leaves out versions a newer cached one supersedes, as the
    # repository does once compacted.
    assert await repository.compact("items") == 2

    for store_id in (msk, spb):
        for after in (0, 3, 11, 14, 19, 22):
            for limit in (1, 4, 500):
                cached = await _pages(with_cache, store_id, after, limit)
                direct = await _pages(without_cache, store_id, after, limit)
                assert cached == direct, (store_id, after, limit)


async def test_pages_below_cached_range_read_repository(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], repository: Repository
) -> None:
    with_cache, _ = clients
    store_id = await _register(repository, [])
    keys = [f"k{i:02}" for i in range(3 * CACHE_DOCUMENTS)]
    await repository.write_changes("items", [_change(k, SCOPE_ALL) for k in keys])

    pages = await _pages(with_cache, store_id, 0, 5)

    revisions = [doc["rev"] for page in pages for doc in page["documents"]]
    assert revisions == list(range(1, len(keys) + 1))
    assert pages[-1]["next_after"] == len(keys)


async def test_joined_fill_reaches_newer_revision(repository: Repository) -> None:
    await repository.write_changes(
        "items", [_change(f"a{i}", SCOPE_ALL) for i in range(3)]
    )
    committed = await repository.write_changes(
        "items", [_change(f"b{i}", SCOPE_ALL) for i in range(3)]
    )
    cache = ChangeCache(repository, CACHE_DOCUMENTS)

    # A request that read the committed revision before the second write
    # starts the fill. A request that read the newer one joins that fill.
    older = asyncio.create_task(cache.page("items", [SCOPE_ALL], 0, 500, 3))
    await asyncio.sleep(0)
    newer = await cache.page("items", [SCOPE_ALL], 0, 500, committed)
    earlier = await older

    assert newer is not None
    assert [change.rev for change in newer] == list(range(1, committed + 1))
    assert earlier is not None
    assert [change.rev for change in earlier] == [1, 2, 3]


async def test_long_range_reads_only_kept_revisions(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ChangeCache(repository, 3)
    await repository.write_changes("items", [_change("first", SCOPE_ALL)])
    await cache.page("items", [SCOPE_ALL], 0, 500, 1)
    committed = await repository.write_changes(
        "items", [_change(f"k{i:02}", SCOPE_ALL) for i in range(10)]
    )
    reads: list[int] = []
    iter_changes = repository.iter_changes_with_scope

    def record_read(entity: str, after: int, chunk: int, *, up_to: int) -> Any:
        reads.append(after)
        return iter_changes(entity, after, chunk, up_to=up_to)

    monkeypatch.setattr(repository, "iter_changes_with_scope", record_read)
    kept = await cache.page("items", [SCOPE_ALL], committed - 3, 500, committed)
    below = await cache.page("items", [SCOPE_ALL], committed - 4, 500, committed)

    assert reads == [committed - 3]
    assert kept is not None
    assert [change.rev for change in kept] == [committed - 2, committed - 1, committed]
    assert below is None


async def test_single_flight_restarts_after_finish() -> None:
    flights = _SingleFlight()
    finished = asyncio.Event()

    async def first_call() -> str:
        finished.set()
        return "first"

    async def second_call() -> str:
        return "second"

    async def later_caller() -> str:
        # Woken by the first call itself, so it runs before that call's
        # task has finished its own callbacks.
        await finished.wait()
        return await flights.run("key", second_call)

    later = asyncio.create_task(later_caller())
    await asyncio.sleep(0)
    first = await flights.run("key", first_call)

    assert first == "first"
    assert await asyncio.wait_for(later, 5) == "second"
