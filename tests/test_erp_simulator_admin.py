"""Tests of the simulator's admin endpoints: request counts and mutations."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from erp_simulator import BARCODES, ITEMS, UNITS, Catalogue, create_app
from hub.serving import BackgroundServer

FIXTURES = Path(__file__).parent / "fixtures" / "onec"
JSON = {"$format": "json"}


@dataclass
class Served:
    catalogue: Catalogue
    odata: httpx.AsyncClient
    admin: httpx.AsyncClient


async def serve(catalogue: Catalogue) -> AsyncIterator[Served]:
    app = create_app(catalogue, infobase="erp", user="hub", password="hub")
    async with BackgroundServer(app) as server:
        base = f"{server.url}/erp/odata/standard.odata/"
        async with (
            httpx.AsyncClient(base_url=base, auth=("hub", "hub")) as odata,
            httpx.AsyncClient(base_url=f"{server.url}/_simulator/") as admin,
        ):
            yield Served(catalogue, odata, admin)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async for value in serve(Catalogue.generate(seed=9, items=400)):
        yield value


@pytest.fixture
async def replayed() -> AsyncIterator[Served]:
    async for value in serve(Catalogue.from_folder(FIXTURES)):
        yield value


async def stats(served: Served) -> dict[str, Any]:
    response = await served.admin.get("stats")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_stats_count_requests_per_entity_set(served: Served) -> None:
    for _ in range(3):
        await served.odata.get(ITEMS, params=JSON)
    await served.odata.get(UNITS, params=JSON)
    await served.odata.get(f"{UNITS}/$count")
    await served.odata.get("Catalog_Нет", params=JSON)
    body = await stats(served)
    assert body["requests_total"] == 6
    assert body["requests_by_entity_set"] == {ITEMS: 3, UNITS: 2}
    assert body["mutations"] == 0
    assert served.catalogue.stats.requests_total == 6
    assert served.catalogue.stats.requests_by_entity_set == {ITEMS: 3, UNITS: 2}


async def test_stats_reset_keeps_mutations(served: Served) -> None:
    await served.odata.get(ITEMS, params=JSON)
    served.catalogue.mutate(edit=1)
    response = await served.admin.post("stats/reset")
    assert response.status_code == 200
    assert response.json() == {
        "requests_total": 0,
        "requests_by_entity_set": {},
        "mutations": 1,
    }
    assert await stats(served) == response.json()


async def test_mutate_endpoint_changes_served_rows(served: Served) -> None:
    counts = {"edit": 50, "add": 20, "mark_deleted": 5, "remove": 5}
    response = await served.admin.post("mutate", json=counts)
    assert response.status_code == 200
    report = response.json()
    assert report["sequence"] == 1
    assert len(report["edited"]) == 50
    assert len(report["added"]) == 20
    assert len(report["marked_deleted"]) == 5
    assert len(report["removed"]) == 5
    served_rows = (await served.odata.get(ITEMS, params=JSON)).json()["value"]
    rows = {row["Ref_Key"]: row for row in served_rows}
    for ref in report["added"]:
        assert ref in rows
    for ref in report["marked_deleted"]:
        assert rows[ref]["DeletionMark"] is True
    for ref in report["removed"]:
        assert ref not in rows
    barcodes = (await served.odata.get(BARCODES, params=JSON)).json()["value"]
    owners = {row["Номенклатура_Key"] for row in barcodes}
    assert set(report["added"]) <= owners
    assert owners.isdisjoint(report["removed"])
    assert (await stats(served))["mutations"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"edit": -1},
        {"add": "5"},
        {"remove": 1.5},
        {"delete": 1},
        {"edit": 300, "remove": 300},
        {"add": 100_001},
    ],
)
async def test_mutate_rejects_bad_counts(served: Served, body: dict[str, Any]) -> None:
    before = served.catalogue.rows(ITEMS)
    response = await served.admin.post("mutate", json=body)
    assert response.status_code == 422
    assert served.catalogue.rows(ITEMS) == before
    assert (await stats(served))["mutations"] == 0


async def test_mutate_replayed_catalogue_is_409(replayed: Served) -> None:
    response = await replayed.admin.post("mutate", json={"edit": 1})
    assert response.status_code == 409
    assert "replayed" in response.json()["detail"]


async def test_admin_needs_no_credentials(served: Served) -> None:
    response = await served.admin.get("stats", auth=None)
    assert response.status_code == 200
