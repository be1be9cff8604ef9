"""Generate the warehouses catalogue (one central warehouse and retail stores)
and the price types catalogue, in the form of 1C's responses.
"""

import random

from erp_simulator.onec import EMPTY_REF, Row, new_data_version, new_ref

__all__ = ["DEFAULT_STORE_COUNT", "MAX_STORES", "generate_reference_data"]

DEFAULT_STORE_COUNT = 220
MAX_STORES = 10_000
_DELETED_STORES = 2

# Cities, each with its weight in the draw: most stores are in the capitals.
_CITIES = (
    ("Москва", 6),
    ("Санкт-Петербург", 5),
    ("Новосибирск", 1),
    ("Екатеринбург", 1),
    ("Казань", 1),
    ("Нижний Новгород", 1),
    ("Самара", 1),
    ("Краснодар", 1),
    ("Ростов-на-Дону", 1),
    ("Уфа", 1),
    ("Пермь", 1),
    ("Воронеж", 1),
)
_STREETS = (
    "ул. Ленина",
    "ул. Советская",
    "ул. Садовая",
    "ул. Гагарина",
    "ул. Баумана",
    "ул. Лесная",
    "ул. Школьная",
    "пр. Мира",
    "пр. Победы",
    "Московский пр.",
)
_PRICE_TYPES = ("Розничная", "Розничная Москва и СПб", "Розничная регионы", "Оптовая")


def _warehouse_row(rng: random.Random, number: int, description: str, kind: str) -> Row:
    return {
        "Ref_Key": new_ref(rng),
        "DataVersion": new_data_version(rng),
        "DeletionMark": False,
        "Parent_Key": EMPTY_REF,
        "IsFolder": False,
        "Code": f"{number:09d}",
        "Description": description,
        "ТипСклада": kind,
        "Predefined": False,
        "PredefinedDataName": "",
    }


def _warehouse_rows(rng: random.Random, stores: int) -> list[Row]:
    rows = [_warehouse_row(rng, 1, "Центральный склад (Подольск)", "ОптовыйСклад")]
    cities = [city for city, _ in _CITIES]
    weights = [weight for _, weight in _CITIES]
    for number in range(1, stores + 1):
        (city,) = rng.choices(cities, weights=weights)
        address = f"{city}, {rng.choice(_STREETS)}, {rng.randint(1, 150)}"
        description = f"Магазин №{number:04d} ({address})"
        rows.append(_warehouse_row(rng, number + 1, description, "РозничныйМагазин"))
    # Closed stores stay in the catalogue, marked for deletion.
    for row in rng.sample(rows[1:], min(_DELETED_STORES, stores)):
        row["DeletionMark"] = True
    return rows


def _price_type_rows(rng: random.Random) -> list[Row]:
    currency = new_ref(rng)
    return [
        {
            "Ref_Key": new_ref(rng),
            "DataVersion": new_data_version(rng),
            "DeletionMark": False,
            "Code": f"{number:09d}",
            "Description": name,
            "ВалютаЦены_Key": currency,
            "Predefined": False,
            "PredefinedDataName": "",
        }
        for number, name in enumerate(_PRICE_TYPES, start=1)
    ]


def generate_reference_data(seed: int, stores: int) -> tuple[list[Row], list[Row]]:
    """Generate the rows of ``Catalog_Склады`` and ``Catalog_ВидыЦен``.

    The warehouses are one central warehouse and ``stores`` retail stores,
    two of them marked for deletion. The draw does not share a random
    generator with the items, so the store count does not change the items.
    Raises ValueError if ``stores`` is negative or more than ``MAX_STORES``.
    """
    if not 0 <= stores <= MAX_STORES:
        raise ValueError(f"store count must be from 0 to {MAX_STORES}, got {stores}")
    rng = random.Random(f"erp-simulator:{seed}:reference-data")
    return _warehouse_rows(rng, stores), _price_type_rows(rng)
