"""Generate the price register's SliceLast and the stock register's Balance.

The rows have the fields and value forms of the sample 1C responses in
tests/fixtures/onec: every retail price type prices every item, and every
warehouse (each retail store and the central one) holds a share of the items.
"""

import random

from erp_simulator.onec import EMPTY_REF, Row

__all__ = ["DEFAULT_STOCK_ITEMS", "RETAIL_PRICE_TYPES", "price_rows", "stock_rows"]

RETAIL_PRICE_TYPES = 3
"""The first price types of ``Catalog_ВидыЦен`` are retail; the rest wholesale."""
DEFAULT_STOCK_ITEMS = 40
"""Items each warehouse holds, at most, unless a count is given."""

_PERIODS = ("2026-09-01T00:00:00", "2026-10-01T00:00:00", "2026-11-01T00:00:00")
# Each retail price type is this factor of the base price, give or take 10%.
_PRICE_FACTORS = (1.0, 1.15, 0.95)


def price_rows(seed: int, item_refs: list[str], price_types: list[Row]) -> list[Row]:
    """Return the SliceLast rows: each item's latest price under each retail type.

    Raises ValueError if there are fewer than ``RETAIL_PRICE_TYPES`` price types.
    """
    if len(price_types) < RETAIL_PRICE_TYPES:
        raise ValueError(
            f"need {RETAIL_PRICE_TYPES} price types, got {len(price_types)}"
        )
    rng = random.Random(f"erp-simulator:{seed}:prices")
    rows: list[Row] = []
    for item in item_refs:
        base = rng.uniform(80, 1500)
        for factor, price_type in zip(_PRICE_FACTORS, price_types, strict=False):
            price = round(base * factor * rng.uniform(0.9, 1.1), 2)
            rows.append(
                {
                    "Period": rng.choice(_PERIODS),
                    "Номенклатура_Key": item,
                    "ХарактеристикаЦО_Key": EMPTY_REF,
                    "СерияЦО_Key": EMPTY_REF,
                    "УпаковкаЦО_Key": EMPTY_REF,
                    "ВидЦены_Key": price_type["Ref_Key"],
                    "Цена": price,
                    "Упаковка_Key": EMPTY_REF,
                    "Валюта_Key": price_type["ВалютаЦены_Key"],
                    "МаркетинговоеМероприятие_Key": EMPTY_REF,
                    "Формула": "",
                }
            )
    return rows


def stock_rows(
    seed: int,
    item_refs: list[str],
    warehouses: list[Row],
    items_per_warehouse: int = DEFAULT_STOCK_ITEMS,
) -> list[Row]:
    """Return the Balance rows: the stock of a sample of items in each warehouse."""
    rng = random.Random(f"erp-simulator:{seed}:stock")
    rows: list[Row] = []
    count = min(items_per_warehouse, len(item_refs))
    for warehouse in warehouses:
        for item in sorted(rng.sample(item_refs, count)):
            on_hand = rng.randint(0, 40)
            rows.append(
                {
                    "Номенклатура_Key": item,
                    "Характеристика_Key": EMPTY_REF,
                    "Назначение_Key": EMPTY_REF,
                    "Склад_Key": warehouse["Ref_Key"],
                    "Помещение_Key": EMPTY_REF,
                    "Серия_Key": EMPTY_REF,
                    "ВНаличииBalance": on_hand,
                    "КОтгрузкеBalance": rng.randint(0, min(on_hand, 3)),
                }
            )
    return rows
