"""An HTTP server that imitates the OData interface of a 1C:ERP infobase.

It serves a generated catalogue of an eco cosmetics maker (items, folders,
units, barcodes, warehouses, price types, the price register's SliceLast and
the stock register's Balance) or replays captured responses from a folder,
and counts the requests it serves. The demo, the tests and
the benchmarks run it in place of a real ERP::

    catalogue = Catalogue.generate(seed=42, items=5000)
    app = create_app(catalogue, infobase="erp", user="hub", password="hub")
    report = catalogue.mutate(edit=50, add=20, mark_deleted=5, remove=5)
"""

from erp_simulator.app import create_app
from erp_simulator.catalogue import (
    BARCODES,
    ITEMS,
    PRICE_TYPES,
    PRICES_SLICE_LAST,
    STOCK_BALANCE,
    UNITS,
    WAREHOUSES,
    Catalogue,
    MutationNotSupportedError,
)
from erp_simulator.entity_sets import (
    EntitySet,
    EntitySetRegistry,
    UnknownEntitySetError,
)
from erp_simulator.mutations import MutationError, MutationReport
from erp_simulator.onec import EMPTY_DATE, EMPTY_REF, Row, is_valid_ean13
from erp_simulator.stats import RequestStats

__all__ = [
    "BARCODES",
    "EMPTY_DATE",
    "EMPTY_REF",
    "ITEMS",
    "PRICES_SLICE_LAST",
    "PRICE_TYPES",
    "STOCK_BALANCE",
    "UNITS",
    "WAREHOUSES",
    "Catalogue",
    "EntitySet",
    "EntitySetRegistry",
    "MutationError",
    "MutationNotSupportedError",
    "MutationReport",
    "RequestStats",
    "Row",
    "UnknownEntitySetError",
    "create_app",
    "is_valid_ean13",
]
