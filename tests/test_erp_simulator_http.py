"""Tests of the simulator's OData endpoint over a real loopback socket."""

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from erp_simulator import BARCODES, EMPTY_REF, ITEMS, UNITS, Catalogue, create_app
from hub.serving import BackgroundServer

FIXTURES = Path(__file__).parent / "fixtures" / "onec"
ATOM = "{http://www.w3.org/2005/Atom}"
DATA = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
METADATA = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
JSON = {"$format": "json"}


@dataclass
class Served:
    catalogue: Catalogue
    url: str
    client: httpx.AsyncClient


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    catalogue = Catalogue.generate(seed=21, items=1200)
    app = create_app(catalogue, infobase="erp", user="hub", password="s3cret")
    async with BackgroundServer(app) as server:
        base = f"{server.url}/erp/odata/standard.odata/"
        auth = ("hub", "s3cret")
        async with httpx.AsyncClient(base_url=base, auth=auth, timeout=30) as client:
            yield Served(catalogue, server.url, client)


async def get_json(served: Served, path: str, **params: str) -> dict[str, Any]:
    response = await served.client.get(path, params={**JSON, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_list_has_metadata_and_all_rows(served: Served) -> None:
    body = await get_json(served, ITEMS)
    assert body["odata.metadata"].endswith(
        "/erp/odata/standard.odata/$metadata#Catalog_Номенклатура"
    )
    assert body["value"] == served.catalogue.rows(ITEMS)
    assert "odata.nextLink" not in body
    assert "odata.count" not in body


async def test_paging_covers_each_row_once(served: Served) -> None:
    expected = [row["Ref_Key"] for row in served.catalogue.rows(ITEMS)]
    page_size = 250
    seen: list[str] = []
    for page in range(len(expected) // page_size + 2):
        params = {"$top": str(page_size), "$skip": str(page * page_size)}
        rows = (await get_json(served, ITEMS, **params))["value"]
        assert len(rows) <= page_size
        seen += [row["Ref_Key"] for row in rows]
        if len(rows) < page_size:
            break
    assert len(seen) == len(set(seen))
    assert seen == expected


async def test_select_keeps_only_named_fields(served: Served) -> None:
    body = await get_json(served, ITEMS, **{"$select": "Ref_Key, Code,Артикул"})
    rows = body["value"]
    assert len(rows) == len(served.catalogue.rows(ITEMS))
    items = [row for row in rows if "Артикул" in row]
    assert items
    for row in items:
        assert set(row) == {"Ref_Key", "Code", "Артикул"}


async def test_filter_on_boolean_and_guid(served: Served) -> None:
    folders = (await get_json(served, ITEMS, **{"$filter": "IsFolder eq true"}))[
        "value"
    ]
    assert folders
    assert all(row["IsFolder"] for row in folders)
    top_filter = f"IsFolder eq true and Parent_Key eq guid'{EMPTY_REF}'"
    top = (await get_json(served, ITEMS, **{"$filter": top_filter}))["value"]
    assert 0 < len(top) < len(folders)
    assert all(row["Parent_Key"] == EMPTY_REF for row in top)


async def test_filter_on_string_and_number(served: Served) -> None:
    item = next(row for row in served.catalogue.rows(ITEMS) if not row["IsFolder"])
    by_code = f"Code eq '{item['Code']}'"
    assert (await get_json(served, ITEMS, **{"$filter": by_code}))["value"] == [item]
    weight = f"ВесЧислитель eq {item['ВесЧислитель']}"
    matched = (await get_json(served, ITEMS, **{"$filter": weight}))["value"]
    assert item in matched
    quoted = "Description eq 'Мыло ''Ромашка'''"
    assert (await get_json(served, ITEMS, **{"$filter": quoted}))["value"] == []


@pytest.mark.parametrize(
    "expression",
    ["IsFolder = true", "IsFolder eq", "IsFolder eq true or Code eq '1'", "Нет eq 1"],
)
async def test_bad_filter_returns_1c_error(served: Served, expression: str) -> None:
    response = await served.client.get(ITEMS, params={**JSON, "$filter": expression})
    assert response.status_code == 400
    error = response.json()["odata.error"]
    assert error["code"]
    assert error["message"]["lang"] == "ru"
    assert error["message"]["value"]


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
async def test_bad_top_returns_400(served: Served, value: str) -> None:
    response = await served.client.get(ITEMS, params={**JSON, "$top": value})
    assert response.status_code == 400
    assert value in response.json()["odata.error"]["message"]["value"]


async def test_orderby_sorts_both_ways(served: Served) -> None:
    codes = [row["Code"] for row in served.catalogue.rows(ITEMS)]
    descending = await get_json(served, ITEMS, **{"$orderby": "Code desc"})
    assert [row["Code"] for row in descending["value"]] == sorted(codes, reverse=True)
    by_name = await get_json(served, UNITS, **{"$orderby": "Description asc"})
    names = [row["Description"] for row in by_name["value"]]
    assert names == sorted(names)
    assert names != [row["Description"] for row in served.catalogue.rows(UNITS)]


async def test_inlinecount_counts_all_matches(served: Served) -> None:
    params = {"$top": "3", "$inlinecount": "allpages", "$filter": "IsFolder eq false"}
    body = await get_json(served, ITEMS, **params)
    assert body["odata.count"] == "1200"
    assert len(body["value"]) == 3
    plain = await get_json(served, BARCODES, **{"$inlinecount": "allpages"})
    assert plain["odata.count"] == str(len(served.catalogue.rows(BARCODES)))


async def test_count_path_returns_number(served: Served) -> None:
    response = await served.client.get(f"{UNITS}/$count")
    assert response.status_code == 200
    assert response.text == str(len(served.catalogue.rows(UNITS)))


async def test_missing_credentials_get_401(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.client.base_url) as anonymous:
        response = await anonymous.get(ITEMS, params=JSON)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert served.catalogue.stats.requests_total == 0


async def test_wrong_password_gets_401(served: Served) -> None:
    response = await served.client.get(ITEMS, params=JSON, auth=("hub", "wrong"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_unknown_entity_set_matches_1c_error(served: Served) -> None:
    response = await served.client.get("Catalog_Номенклатур", params=JSON)
    assert response.status_code == 404
    expected = json.loads((FIXTURES / "error_bad_segment.json").read_text())
    assert response.json() == expected


async def test_record_by_key(served: Served) -> None:
    unit = served.catalogue.rows(UNITS)[0]
    body = await get_json(served, f"{UNITS}(guid'{unit['Ref_Key']}')")
    assert body.pop("odata.metadata").endswith("#Catalog_ЕдиницыИзмерения/@Element")
    assert body == unit


async def test_missing_record_matches_1c_error(served: Served) -> None:
    response = await served.client.get(f"{UNITS}(guid'{EMPTY_REF}')", params=JSON)
    assert response.status_code == 404
    expected = json.loads((FIXTURES / "error_entity_not_found.json").read_text())
    assert response.json() == expected


async def test_atom_without_format(served: Served) -> None:
    response = await served.client.get(UNITS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    rows = served.catalogue.rows(UNITS)
    assert len(entries) == len(rows)
    properties = entries[0].find(f"{ATOM}content/{METADATA}properties")
    assert properties is not None
    assert properties.findtext(f"{DATA}Ref_Key") == rows[0]["Ref_Key"]
    assert properties.findtext(f"{DATA}DeletionMark") == "false"


async def test_accept_header_selects_json(served: Served) -> None:
    headers = {"Accept": "application/json"}
    response = await served.client.get(UNITS, headers=headers)
    assert response.status_code == 200
    assert response.json()["value"] == served.catalogue.rows(UNITS)


async def test_atom_errors_use_xml(served: Served) -> None:
    response = await served.client.get("Catalog_Нет")
    assert response.status_code == 404
    error = ET.fromstring(response.content)
    assert error.tag == f"{METADATA}error"
    assert error.findtext(f"{METADATA}code") == "6"


async def test_virtual_table_of_catalog_is_404(served: Served) -> None:
    response = await served.client.get(f"{ITEMS}/SliceLast()", params=JSON)
    assert response.status_code == 404
    assert "SliceLast" in response.json()["odata.error"]["message"]["value"]


async def test_service_document_lists_sets(served: Served) -> None:
    body = await get_json(served, "")
    names = [entry["name"] for entry in body["value"]]
    # A virtual table is listed under its path, such as Register/SliceLast.
    assert names == [entity_set.path for entity_set in served.catalogue.entity_sets]
    assert body["odata.metadata"].endswith("/erp/odata/standard.odata/$metadata")
    response = await served.client.get("")
    assert response.status_code == 200
    service = ET.fromstring(response.content)
    app = "{http://www.w3.org/2007/app}"
    collections = service.findall(f"{app}workspace/{app}collection")
    assert [element.get("href") for element in collections] == names
