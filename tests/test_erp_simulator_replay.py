"""Tests of replay mode: serving captured 1C responses from a folder."""

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from erp_simulator import Catalogue, create_app
from hub.serving import BackgroundServer

FIXTURES = Path(__file__).parent / "fixtures" / "onec"
JSON = {"$format": "json"}

# File name (without .json) and the path 1C serves it at.
SERVED_PATHS = [
    ("Catalog_Номенклатура", "Catalog_Номенклатура"),
    ("Catalog_ЕдиницыИзмерения", "Catalog_ЕдиницыИзмерения"),
    ("Catalog_Склады", "Catalog_Склады"),
    ("Catalog_ВидыЦен", "Catalog_ВидыЦен"),
    (
        "InformationRegister_ШтрихкодыНоменклатуры",
        "InformationRegister_ШтрихкодыНоменклатуры",
    ),
    (
        "InformationRegister_ЦеныНоменклатуры25",
        "InformationRegister_ЦеныНоменклатуры25",
    ),
    (
        "InformationRegister_ЦеныНоменклатуры25_SliceLast",
        "InformationRegister_ЦеныНоменклатуры25/SliceLast()",
    ),
    (
        "AccumulationRegister_ТоварыНаСкладах_Balance",
        "AccumulationRegister_ТоварыНаСкладах/Balance()",
    ),
]


def file_rows(name: str) -> list[dict[str, Any]]:
    body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = body["value"]
    return rows


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Catalogue.from_folder(FIXTURES))
    async with BackgroundServer(app) as server:
        base = f"{server.url}/erp/odata/standard.odata/"
        async with httpx.AsyncClient(base_url=base, auth=("hub", "hub")) as client:
            yield client


def test_folder_loads_every_response_file() -> None:
    catalogue = Catalogue.from_folder(FIXTURES)
    assert catalogue.mode == "replay"
    assert sorted(catalogue.entity_sets.names()) == sorted(n for n, _ in SERVED_PATHS)


@pytest.mark.parametrize(("name", "path"), SERVED_PATHS)
async def test_replay_serves_file_rows(
    client: httpx.AsyncClient, name: str, path: str
) -> None:
    response = await client.get(path, params=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == file_rows(name)
    assert body["odata.metadata"].endswith(f"$metadata#{name}")


async def test_virtual_table_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    period = "Period=datetime'2026-01-01T00:00:00'"
    path = f"InformationRegister_ЦеныНоменклатуры25/SliceLast({period})"
    response = await client.get(path, params=JSON)
    assert response.status_code == 200
    assert len(response.json()["value"]) == len(
        file_rows("InformationRegister_ЦеныНоменклатуры25_SliceLast")
    )


async def test_virtual_table_name_is_not_a_segment(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "AccumulationRegister_ТоварыНаСкладах_Balance", params=JSON
    )
    assert response.status_code == 404


async def test_error_files_are_not_served(client: httpx.AsyncClient) -> None:
    response = await client.get("error_bad_segment", params=JSON)
    assert response.status_code == 404


async def test_replay_pages_with_top_and_skip(client: httpx.AsyncClient) -> None:
    rows = file_rows("Catalog_Склады")
    params = {**JSON, "$top": "50", "$skip": "100", "$inlinecount": "allpages"}
    body = (await client.get("Catalog_Склады", params=params)).json()
    assert body["value"] == rows[100:150]
    assert body["odata.count"] == str(len(rows))


def test_folder_without_responses_raises(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text('{"odata.error": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("no <EntitySet>.json responses")):
        Catalogue.from_folder(tmp_path)


def test_invalid_json_file_raises(tmp_path: Path) -> None:
    (tmp_path / "Catalog_Склады.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("Catalog_Склады.json")):
        Catalogue.from_folder(tmp_path)


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        Catalogue.from_folder(tmp_path / "absent")
