"""Rows of the item catalogue and the barcode register, drawn at random.

The generator and the ``add`` and ``edit`` mutations build items here, so
new and changed items look like the generated ones.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from erp_simulator.onec import (
    EMPTY_DATE,
    EMPTY_REF,
    UNDEFINED_TYPE,
    Row,
    new_data_version,
    new_ean13,
    new_ref,
)
from erp_simulator.vocabulary import PRODUCT_LINES, ProductType, Size

__all__ = [
    "ItemFolder",
    "ItemName",
    "ItemRegistry",
    "draw_article",
    "draw_names",
    "draw_weight",
    "new_barcode_rows",
    "new_item_row",
]

_COUNTERPARTY_TYPE = "StandardODATA.Catalog_Контрагенты"
_MAX_DRAWS = 50
# A catalogue far larger than the name space of its vocabulary would spend
# most of its time on redraws, so names get fewer attempts than article
# numbers and barcodes.
_MAX_NAME_DRAWS = 8
# Shares of items with 1, 2 and 3 barcodes.
_BARCODE_COUNT_WEIGHTS = (78, 18, 4)


@dataclass(frozen=True)
class ItemFolder:
    """A subfolder that contains items: its reference key and product type."""

    ref: str
    product_type: ProductType
    additives: tuple[str, ...]
    eco_labels: tuple[str, ...]


@dataclass
class ItemRegistry:
    """Reference data and used values that new item rows are drawn against.

    ``used_*`` sets keep article numbers, barcodes and full names unique
    across the catalogue, as far as a bounded number of redraws allows.
    """

    unit_refs: dict[str, str]
    principals: tuple[str, ...]
    eco_label_property: str
    origin_property: str
    used_articles: set[str] = field(default_factory=set)
    used_barcodes: set[str] = field(default_factory=set)
    used_full_names: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ItemName:
    """The names of an item, its package size and its product line."""

    description: str
    full_name: str
    size: Size
    article_prefix: str


def draw_names(
    rng: random.Random, folder: ItemFolder, registry: ItemRegistry
) -> ItemName:
    """Draw the short name (Description) and full name of an item in ``folder``.

    The full name is new to the catalogue unless every attempt hits a used
    one, and it is added to ``registry.used_full_names``.
    """
    for _ in range(_MAX_NAME_DRAWS):
        additive = rng.choice(folder.additives)
        size = rng.choice(folder.product_type.sizes)
        line = rng.choice(PRODUCT_LINES)
        kind = folder.product_type.name
        name = ItemName(
            description=f"{kind} {additive} {size.label}",
            full_name=f"{kind} «{line.name}» {additive}, {size.label}",
            size=size,
            article_prefix=line.article_prefix,
        )
        if name.full_name not in registry.used_full_names:
            break
    registry.used_full_names.add(name.full_name)
    return name


def draw_article(rng: random.Random, prefix: str, registry: ItemRegistry) -> str:
    """Draw an article number such as ``EL-40533`` that no item has yet."""
    article = ""
    for digits in (5, 6, 7):
        for _ in range(_MAX_DRAWS):
            article = f"{prefix}-{rng.randrange(10 ** (digits - 1), 10**digits)}"
            if article not in registry.used_articles:
                registry.used_articles.add(article)
                return article
    # Up to MAX_ITEMS items use a small share of the nine million 7-digit
    # numbers of a prefix, so only a broken random generator gets here.
    raise RuntimeError(f"no free article number with prefix {prefix!r}")


def draw_weight(rng: random.Random, size: Size) -> float:
    """Draw the gross weight in kilograms of one package of ``size``."""
    packaging = rng.uniform(0.01, 0.06)
    return round(size.net_weight_kg * rng.uniform(1.0, 1.08) + packaging, 3)


def _draw_creation_date(rng: random.Random, start: datetime, days: int) -> str:
    # About one item in nine has no creation date, as in the sample responses.
    if rng.random() < 0.11:
        return EMPTY_DATE
    moment = start + timedelta(
        days=rng.randrange(days), hours=rng.randrange(8, 19), minutes=rng.randrange(60)
    )
    return moment.isoformat()


def _draw_properties(
    rng: random.Random, folder: ItemFolder, registry: ItemRegistry
) -> list[Row]:
    values = [(registry.eco_label_property, rng.choice(folder.eco_labels))]
    if rng.random() < 0.3:
        values.append((registry.origin_property, rng.choice(("Россия", "Беларусь"))))
    return [
        {
            "LineNumber": str(number),
            "Свойство_Key": property_ref,
            "Значение": value,
            "Значение_Type": "Edm.String",
            "ТекстоваяСтрока": "",
        }
        for number, (property_ref, value) in enumerate(values, start=1)
    ]


def new_item_row(
    rng: random.Random,
    folder: ItemFolder,
    registry: ItemRegistry,
    code: str,
    created_from: datetime,
    created_days: int = 1,
) -> Row:
    """Draw a new item of ``Catalog_Номенклатура`` in ``folder``.

    Its creation date, unless empty, falls within ``created_days`` days from
    ``created_from``. The keys and their order are those of a 1C item row.
    """
    name = draw_names(rng, folder, registry)
    principal = ""
    if rng.random() < 0.23:
        principal = rng.choice(registry.principals)
    return {
        "Ref_Key": new_ref(rng),
        "DataVersion": new_data_version(rng),
        "DeletionMark": False,
        "Parent_Key": folder.ref,
        "IsFolder": False,
        "Code": code,
        "Description": name.description,
        "НаименованиеПолное": name.full_name,
        "Артикул": draw_article(rng, name.article_prefix, registry),
        # Items sold by the pack, such as 30 tablets, are counted in packs.
        "ЕдиницаИзмерения_Key": registry.unit_refs[
            "уп" if name.size.unit == "шт" else "шт"
        ],
        "ТипНоменклатуры": "Товар",
        "ВесЧислитель": draw_weight(rng, name.size),
        "СтавкаНДС": "НДС20" if rng.random() < 0.68 else "НДС10",
        "Принципал": principal,
        "Принципал_Type": _COUNTERPARTY_TYPE if principal else UNDEFINED_TYPE,
        "ДатаСоздания": _draw_creation_date(rng, created_from, created_days),
        "ДополнительныеРеквизиты": _draw_properties(rng, folder, registry),
        "Predefined": False,
        "PredefinedDataName": "",
    }


def new_barcode_rows(
    rng: random.Random, item_ref: str, registry: ItemRegistry
) -> list[Row]:
    """Draw one to three unused EAN-13 barcodes of an item, as register rows."""
    (count,) = rng.choices((1, 2, 3), weights=_BARCODE_COUNT_WEIGHTS)
    rows: list[Row] = []
    for _ in range(count):
        barcode = new_ean13(rng)
        for _ in range(_MAX_DRAWS):
            if barcode not in registry.used_barcodes:
                break
            barcode = new_ean13(rng)
        registry.used_barcodes.add(barcode)
        rows.append(
            {
                "Штрихкод": barcode,
                "Номенклатура_Key": item_ref,
                "Характеристика_Key": EMPTY_REF,
                "Упаковка_Key": EMPTY_REF,
            }
        )
    return rows
