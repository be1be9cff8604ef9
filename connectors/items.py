"""The items connector: the ERP's item catalogue and barcodes to Item documents."""

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from connectors.mapping import (
    MappingResult,
    QuarantinedRecord,
    ref_or_none,
    text_or_none,
)
from connectors.odata import ODataClient
from contracts import SCOPE_ALL, Item

__all__ = ["BARCODES_RESOURCE", "ITEMS_RESOURCE", "map_items", "read_items"]

ITEMS_RESOURCE = "Catalog_Номенклатура"
BARCODES_RESOURCE = "InformationRegister_ШтрихкодыНоменклатуры"

_FOLDER_DEPTH_LIMIT = 64


def map_items(
    records: Iterable[dict[str, Any]], barcode_rows: Iterable[dict[str, Any]] = ()
) -> MappingResult:
    """Map catalogue rows to Item documents, keyed by the ERP's Ref_Key.

    Folders give items their folder path and are not documents themselves.
    Rows with a deletion mark become deletions. A row that fails validation
    is quarantined with the reason and the rest go on.
    """
    rows = list(records)
    folders = {
        row["Ref_Key"]: row for row in rows if row.get("IsFolder") and "Ref_Key" in row
    }
    barcodes = _barcodes_by_item(barcode_rows)
    result = MappingResult()

    for row in rows:
        if row.get("IsFolder"):
            continue
        key = row.get("Ref_Key")
        if not isinstance(key, str) or ref_or_none(key) is None:
            result.quarantined.append(
                QuarantinedRecord(None, "missing or empty Ref_Key", row)
            )
            continue
        if row.get("DeletionMark") is True:
            result.deleted.add(key)
            continue
        try:
            item = _item(row, folders, barcodes.get(key, []))
        except (ValidationError, ValueError, TypeError) as exc:
            result.quarantined.append(QuarantinedRecord(key, _reason(exc), row))
            continue
        result.documents[key] = (SCOPE_ALL, item.model_dump(mode="json"))

    return result


def _item(
    row: dict[str, Any], folders: dict[str, dict[str, Any]], barcodes: list[str]
) -> Item:
    folder_ref = ref_or_none(row.get("Parent_Key"))
    name = text_or_none(row.get("Description"))
    weight = row.get("ВесЧислитель")
    return Item(
        ref=row["Ref_Key"],
        code=text_or_none(row.get("Code")) or "",
        name=name or "",
        full_name=text_or_none(row.get("НаименованиеПолное")) or name or "",
        article=text_or_none(row.get("Артикул")),
        unit_ref=ref_or_none(row.get("ЕдиницаИзмерения_Key")),
        vat_rate=text_or_none(row.get("СтавкаНДС")),
        item_type=text_or_none(row.get("ТипНоменклатуры")),
        weight_kg=float(weight) if weight not in (None, "", 0) else None,
        folder_ref=folder_ref,
        folder_path=_folder_path(folder_ref, folders),
        barcodes=sorted(barcodes),
    )


def _folder_path(
    folder_ref: str | None, folders: dict[str, dict[str, Any]]
) -> list[str]:
    path: list[str] = []
    current = folder_ref
    # The limit guards against a cycle of Parent_Key references in bad data.
    for _ in range(_FOLDER_DEPTH_LIMIT):
        if current is None or current not in folders:
            break
        folder = folders[current]
        path.append(text_or_none(folder.get("Description")) or "")
        current = ref_or_none(folder.get("Parent_Key"))
    path.reverse()
    return path


def _barcodes_by_item(rows: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for row in rows:
        item = ref_or_none(row.get("Номенклатура_Key"))
        code = text_or_none(row.get("Штрихкод"))
        if item is not None and code is not None:
            result.setdefault(item, []).append(code)
    return result


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        return f"invalid field {field}: {first['msg']}"
    return f"invalid record: {exc}"


async def read_items(erp: ODataClient) -> tuple[int, MappingResult]:
    """Read the catalogue and the barcodes; return the rows read and the mapping."""
    records = await erp.read_all(ITEMS_RESOURCE, order_by="Ref_Key")
    barcode_rows = await erp.read_all(BARCODES_RESOURCE, order_by="Штрихкод")
    return len(records) + len(barcode_rows), map_items(records, barcode_rows)
