"""Declarative mapping of every captured 1C response to contract documents."""

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.config import ConfigError, EntityConfig, load_config
from connectors.declarative import map_rows
from connectors.odata import error_message
from contracts import SCOPE_ALL, get_entity

FIXTURES = Path(__file__).parent / "fixtures" / "onec"
EMPTY_REF = "00000000-0000-0000-0000-000000000000"


def _rows(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())[
        "value"
    ]
    return rows


def _config(entity: str) -> EntityConfig:
    return load_config().entities[entity]


def _items() -> dict[str, Any]:
    result = map_rows(
        _config("items"),
        _rows("Catalog_Номенклатура"),
        lookups={"units": _rows("Catalog_ЕдиницыИзмерения")},
        joins={"barcodes": _rows("InformationRegister_ШтрихкодыНоменклатуры")},
    )
    assert result.quarantined == []
    return {key: data for key, (_, data) in result.documents.items()}


def test_items_resolve_unit_code_and_name() -> None:
    item = _items()["ecb24e7e-2820-4af3-bc9a-6a919d24fbdc"]

    assert item["unit_ref"] == "96f6ebf1-6089-4d93-b028-91c9b0ecd31f"
    assert item["unit_code"] == "778"
    assert item["unit_name"] == "уп"
    assert item["vat_rate"] == "НДС20"


def test_items_composite_principal() -> None:
    items = _items()

    counterparty = items["63d5c813-037f-4359-8119-acc3df5e35f8"]
    own = items["ecb24e7e-2820-4af3-bc9a-6a919d24fbdc"]

    assert counterparty["principal_ref"] == "b821fd07-5193-427a-ad1d-10bc3acf40c3"
    assert own["principal_ref"] is None


def test_items_empty_date_is_null() -> None:
    items = _items()

    assert items["c9e45882-1c38-4dd1-9f8e-0415bcf99dbb"]["created_at"] is None
    created = items["63d5c813-037f-4359-8119-acc3df5e35f8"]["created_at"]
    assert created == "2024-01-23T16:05:00"


def test_items_folders_and_deletion_marks() -> None:
    rows = _rows("Catalog_Номенклатура")
    result = map_rows(_config("items"), rows)

    folders = {r["Ref_Key"] for r in rows if r["IsFolder"]}
    marked = {r["Ref_Key"] for r in rows if r["DeletionMark"] and not r["IsFolder"]}
    assert folders.isdisjoint(result.documents)
    assert result.deleted == marked
    assert result.skipped == len(folders)
    assert len(result.documents) == 163


def test_items_keep_every_barcode() -> None:
    barcodes: dict[str, set[str]] = {}
    for row in _rows("InformationRegister_ШтрихкодыНоменклатуры"):
        barcodes.setdefault(row["Номенклатура_Key"], set()).add(row["Штрихкод"])
    several = {key for key, codes in barcodes.items() if len(codes) > 1}
    items = _items()

    checked = [key for key in several if key in items]
    assert checked
    for key in checked:
        assert items[key]["barcodes"] == sorted(barcodes[key])


def test_padded_strings_and_zero_weight() -> None:
    row = {
        "Ref_Key": "i1",
        "IsFolder": False,
        "DeletionMark": False,
        "Parent_Key": EMPTY_REF,
        "Code": "  НФ-1  ",
        "Description": "Мыло   ",
        "Артикул": "   ",
        "ЕдиницаИзмерения_Key": EMPTY_REF,
        "ВесЧислитель": 0,
        "Принципал": "",
        "Принципал_Type": "StandardODATA.Undefined",
        "ДатаСоздания": "0001-01-01T00:00:00",
    }

    (_, item), *_ = map_rows(_config("items"), [row]).documents.values()

    assert item["code"] == "НФ-1"
    assert item["name"] == "Мыло"
    assert item["full_name"] == "Мыло"
    assert item["article"] is None
    assert item["unit_ref"] is None
    assert item["unit_code"] is None
    assert item["weight_kg"] is None
    assert item["principal_ref"] is None
    assert item["created_at"] is None


def test_composite_of_unexpected_type_is_quarantined() -> None:
    row = {
        "Ref_Key": "i1",
        "IsFolder": False,
        "Code": "НФ-1",
        "Description": "Мыло",
        "Принципал": "b821fd07-5193-427a-ad1d-10bc3acf40c3",
        "Принципал_Type": "StandardODATA.Catalog_Организации",
    }

    result = map_rows(_config("items"), [row])

    assert result.documents == {}
    assert "Catalog_Организации" in result.quarantined[0].reason


def test_units_map_to_contract() -> None:
    result = map_rows(_config("units"), _rows("Catalog_ЕдиницыИзмерения"))

    assert len(result.documents) == 6
    scope, unit = result.documents["5a486531-0201-43e0-bd81-d544bb08d0dc"]
    assert scope == SCOPE_ALL
    assert unit == {
        "ref": "5a486531-0201-43e0-bd81-d544bb08d0dc",
        "code": "796",
        "name": "шт",
        "full_name": "Штука",
    }


def test_price_types_map_to_contract() -> None:
    result = map_rows(_config("price_types"), _rows("Catalog_ВидыЦен"))

    assert len(result.documents) == 4
    _, retail = result.documents["cd8f8818-ccfb-409c-9bd6-b72d1414bc2a"]
    assert retail["code"] == "000000001"
    assert retail["name"] == "Розничная"
    assert retail["currency_ref"] == "a423f2f0-0f46-49fd-af5e-36f2f0b109a2"


def test_stores_are_retail_warehouses() -> None:
    rows = _rows("Catalog_Склады")

    result = map_rows(_config("stores"), rows)

    marked = {r["Ref_Key"] for r in rows if r["DeletionMark"]}
    assert len(marked) == 2
    assert result.deleted == marked
    assert len(result.documents) == 218
    assert "88d9c73d-b5a1-4d8c-9b9e-7a2c53a3f3ce" not in result.documents
    scope, store = result.documents["81d73902-0c78-4a7e-b91d-8d342665c318"]
    assert scope == SCOPE_ALL
    assert store == {
        "ref": "81d73902-0c78-4a7e-b91d-8d342665c318",
        "code": "000000002",
        "name": "Магазин №0001 (Санкт-Петербург, ул. Советская, 115)",
        "city": "Санкт-Петербург",
    }


def test_prices_scoped_by_price_type_group() -> None:
    rows = _rows("InformationRegister_ЦеныНоменклатуры25_SliceLast")

    result = map_rows(
        _config("prices"), rows, lookups={"price_types": _rows("Catalog_ВидыЦен")}
    )

    assert len(result.documents) == len(rows)
    scopes = {scope for scope, _ in result.documents.values()}
    assert scopes == {
        "group.retail",
        "group.retail-capitals",
        "group.retail-regions",
    }
    key = "8db26d53-b26d-4147-a278-01f492d1944a|39810a22-a4c9-4f3d-8a9e-75e0bd7acd9e"
    scope, price = result.documents[key]
    assert scope == "group.retail-capitals"
    assert price == {
        "item_ref": "8db26d53-b26d-4147-a278-01f492d1944a",
        "price_type_ref": "39810a22-a4c9-4f3d-8a9e-75e0bd7acd9e",
        "price": 860.26,
        "currency_ref": "a423f2f0-0f46-49fd-af5e-36f2f0b109a2",
        "valid_from": "2026-11-01T00:00:00",
    }


def test_wholesale_prices_go_to_no_store() -> None:
    row = dict(_rows("InformationRegister_ЦеныНоменклатуры25_SliceLast")[0])
    row["ВидЦены_Key"] = "f9b01775-9c90-4b4a-bbca-44c51a73bf45"  # Оптовая

    result = map_rows(
        _config("prices"), [row], lookups={"price_types": _rows("Catalog_ВидыЦен")}
    )

    assert result.documents == {}
    assert result.skipped == 1


def test_price_register_record_sets_match_slice() -> None:
    # The register's own form nests its records in RecordSet under the
    # recorder document. The connector reads SliceLast instead, whose rows
    # have the fields of one nested record.
    register = _rows("InformationRegister_ЦеныНоменклатуры25")
    records = [record for row in register for record in row["RecordSet"]]
    slice_fields = set(_rows("InformationRegister_ЦеныНоменклатуры25_SliceLast")[0])

    assert records
    for record in records:
        assert slice_fields <= set(record)


def test_stock_scoped_to_own_store() -> None:
    rows = _rows("AccumulationRegister_ТоварыНаСкладах_Balance")
    warehouses = {r["Ref_Key"]: r["Code"] for r in _rows("Catalog_Склады")}

    result = map_rows(
        _config("stock"), rows, lookups={"warehouses": _rows("Catalog_Склады")}
    )

    assert len(result.documents) == len(rows)
    for row in rows:
        key = f"{row['Номенклатура_Key']}|{row['Склад_Key']}"
        scope, stock = result.documents[key]
        store_id = warehouses[row["Склад_Key"]]
        assert scope == f"store.{store_id}"
        assert stock["store_id"] == store_id
        assert stock["on_hand"] == row["ВНаличииBalance"]
        assert stock["reserved"] == row["КОтгрузкеBalance"]


@pytest.mark.parametrize("quantity", [float("nan"), float("inf"), float("-inf")])
def test_stock_not_finite_is_quarantined(quantity: float) -> None:
    rows = _rows("AccumulationRegister_ТоварыНаСкладах_Balance")
    # Python's json module, which reads the ERP's responses, accepts the bare
    # words NaN and Infinity.
    bad = {**rows[0], "ВНаличииBalance": quantity}

    result = map_rows(
        _config("stock"),
        [bad, *rows[1:]],
        lookups={"warehouses": _rows("Catalog_Склады")},
    )

    assert len(result.documents) == len(rows) - 1
    assert len(result.quarantined) == 1
    assert result.quarantined[0].key == f"{bad['Номенклатура_Key']}|{bad['Склад_Key']}"
    assert "finite" in result.quarantined[0].reason


def test_stock_of_wholesale_warehouse_is_skipped() -> None:
    row = dict(_rows("AccumulationRegister_ТоварыНаСкладах_Balance")[0])
    row["Склад_Key"] = "88d9c73d-b5a1-4d8c-9b9e-7a2c53a3f3ce"  # central warehouse

    result = map_rows(
        _config("stock"), [row], lookups={"warehouses": _rows("Catalog_Склады")}
    )

    assert result.documents == {}
    assert result.skipped == 1


def test_every_document_validates_as_contract() -> None:
    sets = {
        "units": ("Catalog_ЕдиницыИзмерения", {}),
        "price_types": ("Catalog_ВидыЦен", {}),
        "stores": ("Catalog_Склады", {}),
        "prices": (
            "InformationRegister_ЦеныНоменклатуры25_SliceLast",
            {"price_types": _rows("Catalog_ВидыЦен")},
        ),
        "stock": (
            "AccumulationRegister_ТоварыНаСкладах_Balance",
            {"warehouses": _rows("Catalog_Склады")},
        ),
    }
    for entity, (name, lookups) in sets.items():
        result = map_rows(_config(entity), _rows(name), lookups=lookups)
        model = get_entity(entity).model
        assert result.quarantined == [], entity
        for _, data in result.documents.values():
            assert model.model_validate(data).model_dump(mode="json") == data


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("error_bad_segment.json", 'Сегмент пути "Catalog_Номенклатур" не найден!'),
        ("error_entity_not_found.json", "Экземпляр сущности не найден"),
        ("error_internal.xml", "Внутренняя ошибка OData-сервиса"),
        (
            "error_application.html",
            "by reason: сеанс завершен администратором",
        ),
    ],
)
def test_error_forms_give_erp_message(name: str, message: str) -> None:
    assert message in error_message((FIXTURES / name).read_text())


def test_plain_text_error_kept() -> None:
    assert error_message("Service Unavailable\n") == "Service Unavailable"
    assert error_message("") == "(empty body)"


def test_new_entity_needs_only_configuration(tmp_path: Path) -> None:
    path = tmp_path / "connectors.toml"
    path.write_text(
        """
[entities.units]
resource = "Catalog_ЕдиницыИзмерения"
key = ["Ref_Key"]
[entities.units.fields]
ref = "Ref_Key"
code = { from = "Code", convert = "text" }
name = { from = "Description", convert = "text" }
full_name = { from = "НаименованиеПолное", convert = "text" }
""",
        encoding="utf-8",
    )

    config = load_config(path).entities["units"]
    result = map_rows(config, _rows("Catalog_ЕдиницыИзмерения"))

    assert config.order_by == ("Ref_Key",)
    assert len(result.documents) == 6


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ('ref = "Ref_Key"\ncolour = "X"', "not in the contract"),
        ('ref = "Ref_Key"', "unset"),
        (
            'ref = "Ref_Key"\ncode = { from = "Code", convert = "upper" }\n'
            'name = "Description"\nfull_name = "Description"',
            "conversion 'upper'",
        ),
    ],
)
def test_invalid_config_is_rejected(tmp_path: Path, fields: str, expected: str) -> None:
    path = tmp_path / "connectors.toml"
    path.write_text(
        '[entities.units]\nresource = "Catalog_ЕдиницыИзмерения"\n'
        f'key = ["Ref_Key"]\n[entities.units.fields]\n{fields}\n',
        encoding="utf-8",
    )

    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_unknown_entity_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "connectors.toml"
    path.write_text('[entities.colours]\nresource = "X"\nkey = ["Ref_Key"]\n')

    with pytest.raises(ConfigError, match="no contract"):
        load_config(path)
