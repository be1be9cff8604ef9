"""Words the generator builds the catalogue of an eco cosmetics maker from.

Each top folder of the item catalogue has subfolders, and each subfolder
contains one product type in several sizes. A short name reads like
``Гель для душа с маслом ши 250 мл``, and the full name adds the product
line in quotes: ``Гель для душа «ЭкоЛиния» с маслом ши, 250 мл``.
"""

from dataclasses import dataclass

__all__ = [
    "CLEANING_ADDITIVES",
    "CLEANING_LABELS",
    "COSMETIC_ADDITIVES",
    "COSMETIC_LABELS",
    "PRODUCT_LINES",
    "TOP_FOLDERS",
    "UNITS",
    "ProductLine",
    "ProductType",
    "Size",
    "TopFolder",
    "UnitOfMeasure",
]


@dataclass(frozen=True)
class UnitOfMeasure:
    """A unit of the units catalogue: short name, full name and OKEI code."""

    name: str
    full_name: str
    code: str


# Codes are those of the Russian classifier of units of measure (OKEI).
UNITS: tuple[UnitOfMeasure, ...] = (
    UnitOfMeasure("шт", "Штука", "796"),
    UnitOfMeasure("л", "Литр", "112"),
    UnitOfMeasure("мл", "Миллилитр", "111"),
    UnitOfMeasure("кг", "Килограмм", "166"),
    UnitOfMeasure("г", "Грамм", "163"),
    UnitOfMeasure("уп", "Упаковка", "778"),
)


@dataclass(frozen=True)
class Size:
    """The amount in one package, such as 250 мл or 30 шт."""

    amount: float
    unit: str

    @property
    def label(self) -> str:
        """The size as printed in names: ``250 мл``, ``1,5 л``."""
        number = f"{self.amount:g}".replace(".", ",")
        return f"{number} {self.unit}"

    @property
    def net_weight_kg(self) -> float:
        """Weight of the contents in kilograms, at the density of water."""
        grams_per_unit = {"мл": 1.0, "г": 1.0, "л": 1000.0, "кг": 1000.0, "шт": 18.0}
        return self.amount * grams_per_unit[self.unit] / 1000.0


@dataclass(frozen=True)
class ProductType:
    """One kind of product, the content of one subfolder."""

    name: str
    folder: str
    sizes: tuple[Size, ...]


@dataclass(frozen=True)
class TopFolder:
    """A top folder of the catalogue, its product types and name additives.

    ``eco_labels`` are the values of the eco label property of its items.
    """

    name: str
    types: tuple[ProductType, ...]
    additives: tuple[str, ...]
    eco_labels: tuple[str, ...]


@dataclass(frozen=True)
class ProductLine:
    """A product line (brand): its name and the prefix of its article numbers."""

    name: str
    article_prefix: str


def _sizes(unit: str, *amounts: float) -> tuple[Size, ...]:
    return tuple(Size(amount, unit) for amount in amounts)


COSMETIC_ADDITIVES: tuple[str, ...] = (
    "с маслом ши",
    "с лавандой",
    "с алоэ вера",
    "с экстрактом чайного дерева",
    "с ромашкой",
    "с эвкалиптом",
    "с мятой",
    "с грейпфрутом",
    "с маслом арганы",
    "с облепихой",
    "с календулой",
    "с зелёным чаем",
    "с кокосом",
    "с овсяным молочком",
    "с маслом жожоба",
    "с розмарином",
    "с шалфеем",
    "без запаха",
    "для чувствительной кожи",
    "для всей семьи",
)

CLEANING_ADDITIVES: tuple[str, ...] = (
    "с ароматом лимона",
    "с ароматом лайма",
    "с ароматом хвои",
    "с ароматом лаванды",
    "с ароматом мяты",
    "с ароматом эвкалипта",
    "с ароматом грейпфрута",
    "с ароматом морской свежести",
    "с содой",
    "с эфирными маслами",
    "с лимонной кислотой",
    "без запаха",
    "для детских вещей",
    "на растительной основе",
    "концентрат",
)

COSMETIC_LABELS = ("Веган", "Без парабенов", "Органик")
CLEANING_LABELS = ("Биоразлагаемое", "Без фосфатов", "Гипоаллергенное")

TOP_FOLDERS: tuple[TopFolder, ...] = (
    TopFolder(
        "Уход за телом",
        (
            ProductType(
                "Гель для душа", "Гели для душа", _sizes("мл", 250, 400, 500, 750)
            ),
            ProductType("Крем для тела", "Кремы для тела", _sizes("мл", 150, 200, 300)),
            ProductType(
                "Скраб для тела", "Скрабы для тела", _sizes("г", 200, 250, 300)
            ),
            ProductType(
                "Молочко для тела", "Молочко для тела", _sizes("мл", 200, 250, 400)
            ),
            ProductType("Масло для тела", "Масла для тела", _sizes("мл", 50, 100, 150)),
        ),
        COSMETIC_ADDITIVES,
        COSMETIC_LABELS,
    ),
    TopFolder(
        "Уход за волосами",
        (
            ProductType("Шампунь", "Шампуни", _sizes("мл", 250, 400, 500, 1000)),
            ProductType("Бальзам для волос", "Бальзамы", _sizes("мл", 200, 250, 400)),
            ProductType(
                "Маска для волос", "Маски для волос", _sizes("мл", 200, 250, 500)
            ),
            ProductType("Твёрдый шампунь", "Твёрдые шампуни", _sizes("г", 55, 70, 85)),
            ProductType(
                "Спрей для волос", "Спреи для волос", _sizes("мл", 100, 150, 200)
            ),
        ),
        COSMETIC_ADDITIVES,
        COSMETIC_LABELS,
    ),
    TopFolder(
        "Уход за лицом",
        (
            ProductType("Пенка для умывания", "Пенки", _sizes("мл", 100, 150, 200)),
            ProductType("Тоник для лица", "Тоники", _sizes("мл", 100, 150, 250)),
            ProductType("Крем для лица", "Кремы для лица", _sizes("мл", 30, 50, 75)),
            ProductType("Гидролат", "Гидролаты", _sizes("мл", 50, 100, 200)),
            ProductType("Маска для лица", "Маски для лица", _sizes("мл", 50, 75, 100)),
        ),
        COSMETIC_ADDITIVES,
        COSMETIC_LABELS,
    ),
    TopFolder(
        "Гигиена",
        (
            ProductType("Зубная паста", "Зубные пасты", _sizes("мл", 50, 75, 100)),
            ProductType("Мыло натуральное", "Мыло", _sizes("г", 75, 90, 100, 120)),
            ProductType("Мыло жидкое", "Жидкое мыло", _sizes("мл", 250, 500, 1000)),
            ProductType("Дезодорант", "Дезодоранты", _sizes("мл", 40, 50, 75)),
            ProductType(
                "Ополаскиватель для рта", "Ополаскиватели", _sizes("мл", 250, 500, 1000)
            ),
        ),
        COSMETIC_ADDITIVES,
        COSMETIC_LABELS,
    ),
    TopFolder(
        "Стирка",
        (
            ProductType(
                "Гель для стирки", "Гели для стирки", _sizes("л", 1, 1.5, 2, 3)
            ),
            ProductType("Порошок для стирки", "Порошки", _sizes("кг", 0.9, 1.5, 3)),
            ProductType("Кондиционер для белья", "Кондиционеры", _sizes("л", 1, 2, 4)),
            ProductType(
                "Пятновыводитель", "Пятновыводители", _sizes("мл", 200, 500, 750)
            ),
            ProductType("Капсулы для стирки", "Капсулы", _sizes("шт", 15, 30, 52)),
        ),
        CLEANING_ADDITIVES,
        CLEANING_LABELS,
    ),
    TopFolder(
        "Уборка дома",
        (
            ProductType(
                "Средство для мытья посуды", "Для посуды", _sizes("мл", 450, 500, 1000)
            ),
            ProductType(
                "Средство для мытья полов", "Для полов", _sizes("л", 0.75, 1, 5)
            ),
            ProductType(
                "Чистящее средство для ванной",
                "Для ванной",
                _sizes("мл", 500, 750, 1000),
            ),
            ProductType(
                "Средство для стёкол", "Для стёкол", _sizes("мл", 500, 750, 1000)
            ),
            ProductType(
                "Таблетки для посудомоечной машины",
                "Для посудомоечных машин",
                _sizes("шт", 30, 60, 100),
            ),
        ),
        CLEANING_ADDITIVES,
        CLEANING_LABELS,
    ),
)

# ЭкоЛиния is the product line of the sample responses in tests/fixtures/onec.
PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("ЭкоЛиния", "EL"),
    ProductLine("Травы Севера", "TS"),
    ProductLine("Зелёный Луг", "ZL"),
    ProductLine("Чистый Ручей", "CR"),
    ProductLine("Лесная Поляна", "LP"),
    ProductLine("Белая Сирень", "BS"),
)
