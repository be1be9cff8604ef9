"""Mapping of the ERP's item catalogue to Item documents, on captured responses."""

import json
from pathlib import Path
from typing import Any

from connectors.diff import TOMBSTONE_HASH, diff_snapshot
from connectors.items import map_items
from contracts import SCOPE_ALL, Item, document_hash
from hub.repository import IndexEntry

FIXTURES = Path(__file__).parent / "fixtures" / "onec"


def _rows(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())["value"]
    return rows


def test_fixture_items_map_to_contract() -> None:
    rows = _rows("Catalog_Номенклатура.json")
    barcodes = _rows("InformationRegister_ШтрихкодыНоменклатуры.json")

    result = map_items(rows, barcodes)

    items = [r for r in rows if not r["IsFolder"]]
    live = [r for r in items if not r["DeletionMark"]]
    assert len(result.documents) == len(live)
    assert result.deleted == {r["Ref_Key"] for r in items if r["DeletionMark"]}
    assert result.quarantined == []
    for scope, data in result.documents.values():
        assert scope == SCOPE_ALL
        Item.model_validate(data)


def test_item_fields_come_from_row() -> None:
    rows = _rows("Catalog_Номенклатура.json")
    row = next(
        r for r in rows if r["Ref_Key"] == "ecb24e7e-2820-4af3-bc9a-6a919d24fbdc"
    )

    data = map_items(rows, _rows("InformationRegister_ШтрихкодыНоменклатуры.json"))
    item = data.documents[row["Ref_Key"]][1]

    assert item["code"] == "НФ-00000007"
    assert item["name"] == "Гель для душа без запаха 30 шт"
    assert item["full_name"] == row["НаименованиеПолное"]
    assert item["article"] == "EL-40533"
    assert item["unit_ref"] == row["ЕдиницаИзмерения_Key"]
    assert item["vat_rate"] == "НДС20"
    assert item["weight_kg"] == 2.635
    assert item["folder_ref"] == "6625029a-f578-48ed-8d43-c942802afab2"
    assert item["folder_path"] == ["Уход за телом"]
    assert "4609728892148" in item["barcodes"]


def test_items_with_several_barcodes_keep_all() -> None:
    barcodes = _rows("InformationRegister_ШтрихкодыНоменклатуры.json")
    per_item: dict[str, set[str]] = {}
    for row in barcodes:
        per_item.setdefault(row["Номенклатура_Key"], set()).add(row["Штрихкод"])
    several = {key: codes for key, codes in per_item.items() if len(codes) > 1}
    assert several, "the fixture has items with several barcodes"

    result = map_items(_rows("Catalog_Номенклатура.json"), barcodes)

    for key, codes in several.items():
        if key in result.documents:
            assert set(result.documents[key][1]["barcodes"]) == codes


def test_nested_folders_give_full_path() -> None:
    root = {"Ref_Key": "f1", "IsFolder": True, "Description": "Дом"}
    child = {
        "Ref_Key": "f2",
        "IsFolder": True,
        "Description": "Кухня",
        "Parent_Key": "f1",
    }
    item = _item_row("i1", parent="f2")

    result = map_items([root, child, item])

    assert result.documents["i1"][1]["folder_path"] == ["Дом", "Кухня"]


def test_empty_values_become_null() -> None:
    row = _item_row("i1", parent="00000000-0000-0000-0000-000000000000")
    row["Артикул"] = "   "
    row["ЕдиницаИзмерения_Key"] = "00000000-0000-0000-0000-000000000000"

    data = map_items([row]).documents["i1"][1]

    assert data["folder_ref"] is None
    assert data["folder_path"] == []
    assert data["article"] is None
    assert data["unit_ref"] is None


def test_invalid_row_is_quarantined_others_kept() -> None:
    bad = _item_row("bad")
    bad["Description"] = ""
    good = _item_row("good")

    result = map_items([bad, good])

    assert list(result.documents) == ["good"]
    assert len(result.quarantined) == 1
    assert result.quarantined[0].key == "bad"
    assert "name" in result.quarantined[0].reason


def test_row_without_ref_key_is_quarantined() -> None:
    row = _item_row("x")
    del row["Ref_Key"]

    result = map_items([row])

    assert result.documents == {}
    assert result.quarantined[0].reason == "missing or empty Ref_Key"


def test_diff_writes_only_changes() -> None:
    mapped = map_items([_item_row("a"), _item_row("b")])
    data_a = mapped.documents["a"][1]
    index = {
        "a": IndexEntry(document_hash(data_a), False, SCOPE_ALL),
        "b": IndexEntry("old", False, SCOPE_ALL),
        "gone": IndexEntry("h", False, SCOPE_ALL),
        "dead": IndexEntry(TOMBSTONE_HASH, True, SCOPE_ALL),
    }

    diff = diff_snapshot(index, mapped)

    assert [c.key for c in diff.changes] == ["b", "gone"]
    assert diff.changes[1].deleted
    assert diff.unchanged == 1
    assert diff.deletions == 1
    assert diff.live_before == 3


def test_diff_keeps_quarantined_document() -> None:
    bad = _item_row("a")
    bad["Description"] = ""
    mapped = map_items([bad])
    index = {"a": IndexEntry("h", False, SCOPE_ALL)}

    diff = diff_snapshot(index, mapped)

    assert diff.changes == []
    assert diff.deletions == 0


def _item_row(key: str, parent: str | None = None) -> dict[str, Any]:
    return {
        "Ref_Key": key,
        "DataVersion": "AAAAAAAAAAA=",
        "DeletionMark": False,
        "Parent_Key": parent or "00000000-0000-0000-0000-000000000000",
        "IsFolder": False,
        "Code": "НФ-1",
        "Description": f"Мыло {key}",
        "НаименованиеПолное": f"Мыло {key}, 100 г",
        "Артикул": "A-1",
        "ЕдиницаИзмерения_Key": "5a486531-0201-43e0-bd81-d544bb08d0dc",
        "ТипНоменклатуры": "Товар",
        "ВесЧислитель": 0.1,
        "СтавкаНДС": "НДС20",
    }
