"""Tests of the simulator's query options and resource paths, without a server."""

from typing import Any

import pytest

from erp_simulator.entity_sets import UnknownEntitySetError
from erp_simulator.paths import parse_resource_path
from erp_simulator.query import QueryError, apply_query, parse_query

ROWS: list[dict[str, Any]] = [
    {"Code": "3", "Description": "Мыло «Луг» and мята", "DeletionMark": False, "N": 1},
    {"Code": "1", "Description": "O'Neil", "DeletionMark": True, "N": 2.5},
    {"Code": "2", "Description": "Гель", "DeletionMark": False, "N": 0},
    {"Code": "4", "Description": "Папка", "DeletionMark": False},
]


def codes(params: dict[str, str]) -> list[str]:
    result = apply_query(ROWS, parse_query(params))
    return [row["Code"] for row in result.rows]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("DeletionMark eq true", ["1"]),
        ("DeletionMark ne true", ["3", "2", "4"]),
        ("N eq 2.5", ["1"]),
        ("N eq 0", ["2"]),
        ("Description eq 'O''Neil'", ["1"]),
        ("Description eq 'Мыло «Луг» and мята'", ["3"]),
        ("DeletionMark eq false and N eq 0", ["2"]),
        ("  Code eq '4'  ", ["4"]),
    ],
)
def test_filter_matches(expression: str, expected: list[str]) -> None:
    assert codes({"$filter": expression}) == expected


def test_filter_keeps_booleans_and_numbers_apart() -> None:
    assert codes({"$filter": "DeletionMark eq 1"}) == []
    assert codes({"$filter": "N eq false"}) == []


def test_filter_guid_ignores_case() -> None:
    rows = [{"Ref_Key": "6625029a-f578-48ed-8d43-c942802afab2"}]
    expression = "Ref_Key eq guid'6625029A-F578-48ED-8D43-C942802AFAB2'"
    assert apply_query(rows, parse_query({"$filter": expression})).rows == rows


@pytest.mark.parametrize(
    "expression",
    ["", "Code", "Code eq", "Code eq '1' or N eq 1", "Code gt '1'", "Code eq 'x"],
)
def test_filter_syntax_errors(expression: str) -> None:
    with pytest.raises(QueryError, match=r"\$filter"):
        parse_query({"$filter": expression})


def test_orderby_several_keys() -> None:
    params = {"$orderby": "DeletionMark desc, Code"}
    assert codes(params) == ["1", "2", "3", "4"]


def test_orderby_puts_missing_values_first() -> None:
    assert codes({"$orderby": "N"}) == ["4", "2", "3", "1"]


@pytest.mark.parametrize("option", ["$filter", "$orderby", "$select"])
def test_unknown_field_is_error(option: str) -> None:
    value = "Нет eq 1" if option == "$filter" else "Нет"
    with pytest.raises(QueryError, match="Нет"):
        apply_query(ROWS, parse_query({option: value}))


def test_top_skip_and_count() -> None:
    options = parse_query({"$top": "2", "$skip": "1", "$inlinecount": "allpages"})
    result = apply_query(ROWS, options)
    assert [row["Code"] for row in result.rows] == ["1", "2"]
    assert result.count == 4
    assert options.inline_count


@pytest.mark.parametrize(
    ("option", "value"),
    [("$top", "-1"), ("$skip", "x"), ("$inlinecount", "all"), ("$orderby", "Code up")],
)
def test_bad_option_values(option: str, value: str) -> None:
    with pytest.raises(QueryError, match=option.replace("$", r"\$")):
        parse_query({option: value})


def test_select_star_keeps_all_fields() -> None:
    result = apply_query(ROWS, parse_query({"$select": "*"}))
    assert result.rows == ROWS


@pytest.mark.parametrize(
    ("path", "segment", "table", "count"),
    [
        ("Catalog_Склады", "Catalog_Склады", None, False),
        ("Catalog_Склады/$count", "Catalog_Склады", None, True),
        (
            "AccumulationRegister_Т/Balance()",
            "AccumulationRegister_Т",
            "Balance",
            False,
        ),
        (
            "InformationRegister_Ц/SliceLast(Period=datetime'2026-01-01T00:00:00')",
            "InformationRegister_Ц",
            "SliceLast",
            False,
        ),
    ],
)
def test_resource_paths(
    path: str, segment: str, table: str | None, count: bool
) -> None:
    resource = parse_resource_path(path)
    assert resource.segment == segment
    assert resource.virtual_table == table
    assert resource.count is count
    assert resource.key is None


def test_resource_path_with_key() -> None:
    resource = parse_resource_path(
        "Catalog_X(guid'6625029A-F578-48ED-8D43-C942802AFAB2')"
    )
    assert resource.key == "6625029a-f578-48ed-8d43-c942802afab2"


@pytest.mark.parametrize(
    ("path", "segment"),
    [
        ("$metadata", "$metadata"),
        ("Catalog_X(1)", "Catalog_X(1)"),
        ("Catalog_X/Other", "Other"),
        ("A/B()/C", "B()"),
    ],
)
def test_unsupported_paths_name_the_segment(path: str, segment: str) -> None:
    with pytest.raises(UnknownEntitySetError) as error_info:
        parse_resource_path(path)
    assert error_info.value.segment == segment
