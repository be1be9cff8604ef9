"""Tests of the ERP simulator's generated catalogue: shapes, links, values."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from erp_simulator import (
    BARCODES,
    EMPTY_DATE,
    EMPTY_REF,
    ITEMS,
    PRICE_TYPES,
    UNITS,
    WAREHOUSES,
    Catalogue,
    UnknownEntitySetError,
    is_valid_ean13,
)
from erp_simulator.onec import ean13_check_digit

FIXTURES = Path(__file__).parent / "fixtures" / "onec"


def fixture_rows(name: str) -> list[dict[str, Any]]:
    body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = body["value"]
    return rows


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.generate(seed=42)


def items_of(catalogue: Catalogue) -> list[dict[str, Any]]:
    return [row for row in catalogue.rows(ITEMS) if not row["IsFolder"]]


def folders_of(catalogue: Catalogue) -> list[dict[str, Any]]:
    return [row for row in catalogue.rows(ITEMS) if row["IsFolder"]]


def test_same_seed_gives_same_rows() -> None:
    first = Catalogue.generate(seed=7, items=500)
    second = Catalogue.generate(seed=7, items=500)
    for name in first.entity_sets.names():
        assert first.rows(name) == second.rows(name), name


def test_different_seed_gives_different_rows() -> None:
    first = Catalogue.generate(seed=7, items=500)
    second = Catalogue.generate(seed=8, items=500)
    first_refs = {row["Ref_Key"] for row in first.rows(ITEMS)}
    second_refs = {row["Ref_Key"] for row in second.rows(ITEMS)}
    assert first_refs.isdisjoint(second_refs)
    first_names = [row["Description"] for row in items_of(first)]
    second_names = [row["Description"] for row in items_of(second)]
    assert first_names != second_names


def test_default_catalogue_has_5000_items(catalogue: Catalogue) -> None:
    items = items_of(catalogue)
    assert len(items) == 5000
    assert len({row["Ref_Key"] for row in catalogue.rows(ITEMS)}) == len(
        catalogue.rows(ITEMS)
    )
    assert len({row["Code"] for row in catalogue.rows(ITEMS)}) == len(
        catalogue.rows(ITEMS)
    )
    assert len({row["Артикул"] for row in items}) == len(items)


def test_generation_is_repeatable() -> None:
    first = Catalogue.generate(seed=1, items=5000)
    second = Catalogue.generate(seed=1, items=5000)

    assert len(first.rows(ITEMS)) >= 5000
    assert first.rows(ITEMS) == second.rows(ITEMS)


def test_item_keys_match_fixture(catalogue: Catalogue) -> None:
    fixture = fixture_rows(ITEMS)
    fixture_item = next(row for row in fixture if not row["IsFolder"])
    fixture_folder = next(row for row in fixture if row["IsFolder"])
    for row in items_of(catalogue):
        assert list(row) == list(fixture_item)
    for row in folders_of(catalogue):
        assert list(row) == list(fixture_folder)
    generated_line = items_of(catalogue)[0]["ДополнительныеРеквизиты"][0]
    assert list(generated_line) == list(fixture_item["ДополнительныеРеквизиты"][0])


@pytest.mark.parametrize("name", [UNITS, BARCODES, WAREHOUSES, PRICE_TYPES])
def test_reference_keys_match_fixture(catalogue: Catalogue, name: str) -> None:
    expected = list(fixture_rows(name)[0])
    for row in catalogue.rows(name):
        assert list(row) == expected


def test_item_values_have_1c_forms(catalogue: Catalogue) -> None:
    items = items_of(catalogue)
    for row in items:
        assert row["Code"].startswith("НФ-")
        assert len(row["Code"]) == len("НФ-00000007")
        assert row["СтавкаНДС"] in ("НДС20", "НДС10")
        assert row["ТипНоменклатуры"] == "Товар"
        assert isinstance(row["ВесЧислитель"], float)
        assert row["ВесЧислитель"] > 0
        assert len(row["DataVersion"]) == 12
        if row["Принципал"]:
            assert row["Принципал_Type"] == "StandardODATA.Catalog_Контрагенты"
        else:
            assert row["Принципал_Type"] == "StandardODATA.Undefined"
    assert any(row["Принципал"] for row in items)
    assert any(row["ДатаСоздания"] == EMPTY_DATE for row in items)
    assert any(row["СтавкаНДС"] == "НДС10" for row in items)


def test_items_reference_existing_folders(catalogue: Catalogue) -> None:
    folders = {row["Ref_Key"]: row for row in folders_of(catalogue)}
    top = [row for row in folders.values() if row["Parent_Key"] == EMPTY_REF]
    nested = [row for row in folders.values() if row["Parent_Key"] != EMPTY_REF]
    assert len(top) >= 2
    assert len(nested) >= 2
    for row in nested:
        assert row["Parent_Key"] in folders
        assert folders[row["Parent_Key"]]["Parent_Key"] == EMPTY_REF
    for row in items_of(catalogue):
        assert row["Parent_Key"] in folders


def test_items_reference_existing_units(catalogue: Catalogue) -> None:
    units = {row["Ref_Key"]: row["Description"] for row in catalogue.rows(UNITS)}
    used = Counter(units[row["ЕдиницаИзмерения_Key"]] for row in items_of(catalogue))
    assert set(used) == {"шт", "уп"}


def test_about_one_percent_marked_deleted(catalogue: Catalogue) -> None:
    marked = [row for row in items_of(catalogue) if row["DeletionMark"]]
    assert 25 <= len(marked) <= 100


def test_barcodes_are_valid_ean13(catalogue: Catalogue) -> None:
    barcodes = catalogue.rows(BARCODES)
    for row in barcodes:
        assert is_valid_ean13(row["Штрихкод"]), row["Штрихкод"]
    assert len({row["Штрихкод"] for row in barcodes}) == len(barcodes)


def test_barcodes_cover_every_item(catalogue: Catalogue) -> None:
    per_item = Counter(row["Номенклатура_Key"] for row in catalogue.rows(BARCODES))
    item_refs = {row["Ref_Key"] for row in items_of(catalogue)}
    assert set(per_item) == item_refs
    counts = Counter(per_item.values())
    assert counts[1] > len(item_refs) / 2
    assert counts[2] + counts[3] > 0


def test_ean13_check_digit_known_codes() -> None:
    assert ean13_check_digit("460972889214") == 8
    assert ean13_check_digit("400638133393") == 1
    assert is_valid_ean13("4006381333931")
    assert not is_valid_ean13("4006381333932")
    assert not is_valid_ean13("40063813339")
    with pytest.raises(ValueError, match="12 digits"):
        ean13_check_digit("12345")


def test_fixture_barcodes_pass_the_check() -> None:
    for row in fixture_rows(BARCODES):
        assert is_valid_ean13(row["Штрихкод"]), row["Штрихкод"]


def test_warehouses_are_one_central_and_stores(catalogue: Catalogue) -> None:
    rows = catalogue.rows(WAREHOUSES)
    kinds = Counter(row["ТипСклада"] for row in rows)
    assert kinds == {"ОптовыйСклад": 1, "РозничныйМагазин": 220}
    assert sum(row["DeletionMark"] for row in rows) == 2


def test_unknown_entity_set_raises(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownEntitySetError, match="Catalog_Нет"):
        catalogue.rows("Catalog_Нет")


@pytest.mark.parametrize("items", [-1, 200_001])
def test_generate_rejects_bad_item_count(items: int) -> None:
    with pytest.raises(ValueError, match=str(items)):
        Catalogue.generate(items=items)
