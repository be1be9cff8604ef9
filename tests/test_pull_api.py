"""The pull API against the real MongoDB-protocol server."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts import SCOPE_ALL, document_hash, group_scope, store_scope
from hub.api import RETRY_AFTER_SECONDS, create_app
from hub.credentials import hash_token, new_secret
from hub.delivery import DeliveryState
from hub.repository import PendingChange, Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord
from tests.conftest import PrivateFerretDB, unique
from tests.delivery_support import wait_for

pytestmark = pytest.mark.integration


def _change(key: str, scope: str = SCOPE_ALL, deleted: bool = False) -> PendingChange:
    if deleted:
        return PendingChange(key, "deleted", scope, None)
    data = {"ref": key, "name": f"item {key}"}
    return PendingChange(key, document_hash(data), scope, data)


# Every store of this module gets the same API token, which the client sends.
TOKEN = new_secret()
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}


async def _register(repository: Repository, store_id: str, groups: list[str]) -> None:
    record = StoreRecord(store_id=store_id, name=store_id, groups=groups)
    fields = record.model_dump(exclude={"store_id"})
    await repository.db.stores.insert_one(
        {"_id": store_id, **fields, "token_hash": hash_token(TOKEN)}
    )


@pytest.fixture
async def client(
    settings: Settings, repository: Repository
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        BackgroundServer(create_app(settings, repository)) as server,
        httpx.AsyncClient(base_url=server.url, headers=AUTHORIZATION) as http,
    ):
        yield http


async def test_pages_cover_all_changes(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = unique("s")
    await _register(repository, store, [])
    await repository.write_changes("items", [_change(f"k{i:03}") for i in range(25)])

    seen: list[int] = []
    after = 0
    for _ in range(10):
        response = await client.get(
            f"/v1/stores/{store}/changes/items", params={"after": after, "limit": 10}
        )
        assert response.status_code == 200
        page = response.json()
        seen += [doc["rev"] for doc in page["documents"]]
        after = page["next_after"]
        if not page["has_more"]:
            break

    assert seen == list(range(1, 26))
    assert after == 25
    assert page["hub_revision"] == 25


async def test_nothing_new_gives_empty_list(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = unique("s")
    await _register(repository, store, [])
    await repository.write_changes("items", [_change("a")])

    response = await client.get(f"/v1/stores/{store}/changes/items?after=1")

    assert response.status_code == 200
    assert response.json()["documents"] == []
    assert response.json()["has_more"] is False
    assert response.json()["next_after"] == 1


async def test_store_sees_only_its_scopes(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store, other = unique("s"), unique("s")
    await _register(repository, store, ["msk"])
    changes = [
        _change("all"),
        _change("mine", store_scope(store)),
        _change("other", store_scope(other)),
        _change("zone", group_scope("msk")),
        _change("far", group_scope("spb")),
    ]
    await repository.write_changes("items", changes)

    response = await client.get(f"/v1/stores/{store}/changes/items")

    keys = {doc["key"] for doc in response.json()["documents"]}
    assert keys == {"all", "mine", "zone"}


async def test_tombstones_are_served(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = unique("s")
    await _register(repository, store, [])
    await repository.write_changes("items", [_change("a")])
    await repository.write_changes("items", [_change("a", deleted=True)])

    documents = (await client.get(f"/v1/stores/{store}/changes/items")).json()[
        "documents"
    ]

    # The API's cache leaves out the superseded version, as compaction does.
    assert [doc["rev"] for doc in documents] == [2]
    assert documents[-1]["deleted"] is True
    assert documents[-1]["data"] is None


async def test_compaction_leaves_only_newest(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = unique("s")
    await _register(repository, store, [])
    await repository.write_changes("items", [_change("a"), _change("b")])
    await repository.write_changes("items", [_change("a", deleted=True)])

    deleted = await repository.compact("items")
    documents = (await client.get(f"/v1/stores/{store}/changes/items")).json()[
        "documents"
    ]

    assert deleted == 1
    assert [(doc["key"], doc["rev"]) for doc in documents] == [("b", 2), ("a", 3)]
    assert documents[-1]["deleted"] is True


async def test_unknown_store_is_404(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await _register(repository, unique("s"), [])

    response = await client.get("/v1/stores/nobody/changes/items")

    assert response.status_code == 404
    assert response.json()["error"] == "store_not_found"
    assert "nobody" in response.json()["message"]


async def test_unknown_entity_is_404(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    store = unique("s")
    await _register(repository, store, [])

    response = await client.get(f"/v1/stores/{store}/changes/spaceships")

    assert response.status_code == 404
    assert response.json()["error"] == "entity_not_found"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("after=-1", "after"),
        ("after=9223372036854775808", "after"),
        ("after=x", "after"),
    ],
)
async def test_bad_parameter_is_422_naming_it(
    client: httpx.AsyncClient, repository: Repository, query: str, name: str
) -> None:
    store = unique("s")
    await _register(repository, store, [])

    response = await client.get(f"/v1/stores/{store}/changes/items?{query}")

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_parameter"
    assert f"{name}=" in response.json()["message"]


async def test_invalid_store_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/stores/bad.id/changes/items")

    assert response.status_code == 422
    assert "store_id=" in response.json()["message"]


async def test_repository_down_is_503_fast(private_ferretdb: PrivateFerretDB) -> None:
    settings = Settings(mongo_url=private_ferretdb.url, mongo_database=unique("rh_"))
    repository = Repository.from_settings(settings)
    store = unique("s")
    await _register(repository, store, [])
    app = create_app(settings, repository)

    async with (
        BackgroundServer(app) as server,
        httpx.AsyncClient(base_url=server.url, headers=AUTHORIZATION) as http,
    ):
        ok = await http.get(f"/v1/stores/{store}/changes/items")
        private_ferretdb.stop()
        started = time.monotonic()
        down = await http.get(f"/v1/stores/{store}/changes/items", timeout=30)
        elapsed = time.monotonic() - started

    await repository.close()
    assert ok.status_code == 200
    assert down.status_code == 503
    assert down.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert down.json()["error"] == "repository_unavailable"
    assert elapsed < 5.0


async def test_metrics_count_error_responses(client: httpx.AsyncClient) -> None:
    await client.get("/v1/stores/nobody/changes/items")
    await client.get("/v1/stores/bad.id/changes/items")

    text = (await client.get("/metrics")).text

    route = "/v1/stores/{store_id}/changes/{entity}"
    assert f'retail_hub_api_responses_total{{route="{route}",status="401"}}' in text
    assert f'retail_hub_api_responses_total{{route="{route}",status="422"}}' in text
    assert "nobody" not in text


async def test_concurrent_pulls_are_recorded(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    stores = [unique("r") for _ in range(40)]
    for store in stores:
        await _register(repository, store, [])
    await repository.write_changes("items", [_change("a")])

    responses = await asyncio.gather(
        *(client.get(f"/v1/stores/{store}/changes/items") for store in stores)
    )

    async def all_recorded() -> bool:
        states = await DeliveryState(repository).states()
        return all(states.get(store, {}).get("last_pull_at") for store in stores)

    assert [response.status_code for response in responses] == [200] * len(stores)
    await wait_for(all_recorded, "every store's last pull recorded")
