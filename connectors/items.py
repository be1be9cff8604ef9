"""The items connector: the ERP's item catalogue and barcodes to Item documents.

The mapping is the ``items`` entity of the connectors file; these functions
keep the item-specific entry points that benchmarks and tests call.
"""

from collections.abc import Iterable
from typing import Any

from connectors.config import EntityConfig, load_config
from connectors.declarative import map_rows, read_entity
from connectors.mapping import MappingResult
from connectors.odata import ODataClient

__all__ = ["BARCODES_RESOURCE", "ITEMS_RESOURCE", "map_items", "read_items"]

ITEMS_RESOURCE = "Catalog_Номенклатура"
BARCODES_RESOURCE = "InformationRegister_ШтрихкодыНоменклатуры"


def _items_config() -> EntityConfig:
    return load_config().entities["items"]


def map_items(
    records: Iterable[dict[str, Any]],
    barcode_rows: Iterable[dict[str, Any]] = (),
    unit_rows: Iterable[dict[str, Any]] = (),
) -> MappingResult:
    """Map catalogue rows to Item documents, keyed by the ERP's Ref_Key.

    Folders give items their folder path and are not documents themselves.
    Rows with a deletion mark become deletions. A row that fails validation
    is quarantined with the reason and the rest go on. Without ``unit_rows``
    the unit's code and name are null.
    """
    return map_rows(
        _items_config(),
        records,
        lookups={"units": unit_rows},
        joins={"barcodes": barcode_rows},
    )


async def read_items(erp: ODataClient) -> tuple[int, MappingResult]:
    """Read the catalogue, units and barcodes; return the rows read and the mapping."""
    return await read_entity(erp, _items_config())
