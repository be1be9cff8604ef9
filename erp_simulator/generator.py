"""Generate the master data of an eco cosmetics and cleaning products maker.

``generate_catalogue`` draws units, a two-level folder tree, items and their
barcodes from one seed. The rows have the keys, key order and value forms of
the sample 1C responses in tests/fixtures/onec.
"""

import random
from dataclasses import dataclass
from datetime import datetime

from erp_simulator.items import (
    ItemFolder,
    ItemRegistry,
    new_barcode_rows,
    new_item_row,
)
from erp_simulator.onec import EMPTY_REF, Row, new_data_version, new_ref
from erp_simulator.vocabulary import TOP_FOLDERS, UNITS

__all__ = [
    "ITEM_CODE_PREFIX",
    "MAX_ITEMS",
    "CatalogueState",
    "format_item_code",
    "generate_catalogue",
]

ITEM_CODE_PREFIX = "НФ-"
MAX_ITEMS = 200_000
"""The largest item count ``generate_catalogue`` accepts."""

_CREATED_FROM = datetime(2023, 1, 9)
_CREATED_DAYS = 900
_PRINCIPAL_COUNT = 8
_DELETION_MARK_SHARE = 0.01


@dataclass
class CatalogueState:
    """The rows of a generated catalogue, and what mutations need to add more.

    ``nomenclature`` maps Ref_Key to the row of a folder or an item, in the
    order 1C returns them. Rows are replaced, never changed in place, so a
    list of rows taken earlier stays as it was.
    """

    units: list[Row]
    nomenclature: dict[str, Row]
    barcodes: list[Row]
    item_folders: list[ItemFolder]
    registry: ItemRegistry
    next_code: int


def format_item_code(number: int) -> str:
    """Return the item catalogue code of ``number``, such as ``НФ-00000007``."""
    return f"{ITEM_CODE_PREFIX}{number:08d}"


def _unit_rows(rng: random.Random) -> list[Row]:
    return [
        {
            "Ref_Key": new_ref(rng),
            "DataVersion": new_data_version(rng),
            "DeletionMark": False,
            "Code": unit.code,
            "Description": unit.name,
            "НаименованиеПолное": unit.full_name,
            "Predefined": False,
            "PredefinedDataName": "",
        }
        for unit in UNITS
    ]


def _folder_row(rng: random.Random, parent: str, number: int, name: str) -> Row:
    return {
        "Ref_Key": new_ref(rng),
        "DataVersion": new_data_version(rng),
        "DeletionMark": False,
        "Parent_Key": parent,
        "IsFolder": True,
        "Code": format_item_code(number),
        "Description": name,
        "Predefined": False,
        "PredefinedDataName": "",
    }


def _folder_rows(rng: random.Random) -> tuple[list[Row], list[ItemFolder]]:
    """Draw the top folders, then their subfolders, numbered in that order."""
    top_rows = [
        _folder_row(rng, EMPTY_REF, number, top.name)
        for number, top in enumerate(TOP_FOLDERS, start=1)
    ]
    rows = list(top_rows)
    item_folders: list[ItemFolder] = []
    for top, top_row in zip(TOP_FOLDERS, top_rows, strict=True):
        for product_type in top.types:
            row = _folder_row(
                rng, top_row["Ref_Key"], len(rows) + 1, product_type.folder
            )
            rows.append(row)
            item_folders.append(
                ItemFolder(row["Ref_Key"], product_type, top.additives, top.eco_labels)
            )
    return rows, item_folders


def _item_rows(
    rng: random.Random, count: int, folders: list[ItemFolder], state: CatalogueState
) -> list[Row]:
    """Draw ``count`` items grouped by folder, with codes in that order."""
    picks = sorted(rng.choices(range(len(folders)), k=count))
    rows: list[Row] = []
    for folder_index in picks:
        code = format_item_code(state.next_code)
        state.next_code += 1
        rows.append(
            new_item_row(
                rng,
                folders[folder_index],
                state.registry,
                code,
                _CREATED_FROM,
                _CREATED_DAYS,
            )
        )
    marked = rng.sample(range(count), round(count * _DELETION_MARK_SHARE))
    for index in marked:
        rows[index]["DeletionMark"] = True
    return rows


def generate_catalogue(seed: int, items: int) -> CatalogueState:
    """Generate units, folders, ``items`` items and their barcodes from ``seed``.

    The same seed and count always give the same rows. Raises ValueError if
    ``items`` is negative or more than ``MAX_ITEMS``.
    """
    if not 0 <= items <= MAX_ITEMS:
        raise ValueError(f"item count must be from 0 to {MAX_ITEMS}, got {items}")
    rng = random.Random(seed)
    units = _unit_rows(rng)
    folders, item_folders = _folder_rows(rng)
    registry = ItemRegistry(
        unit_refs={row["Description"]: row["Ref_Key"] for row in units},
        principals=tuple(new_ref(rng) for _ in range(_PRINCIPAL_COUNT)),
        eco_label_property=new_ref(rng),
        origin_property=new_ref(rng),
    )
    state = CatalogueState(
        units=units,
        nomenclature={row["Ref_Key"]: row for row in folders},
        barcodes=[],
        item_folders=item_folders,
        registry=registry,
        next_code=len(folders) + 1,
    )
    for row in _item_rows(rng, items, item_folders, state):
        state.nomenclature[row["Ref_Key"]] = row
        state.barcodes.extend(new_barcode_rows(rng, row["Ref_Key"], registry))
    return state
