"""The registry of entity sets a simulator serves, by name.

An entity set is a name and a function that returns its rows. A new entity
set is served once it is added to the registry.

Names follow 1C's metadata names: ``Catalog_Номенклатура``, or, for a
virtual table of a register, the register's name and the table's joined by
``_``, as in ``InformationRegister_ЦеныНоменклатуры25_SliceLast``. 1C serves
such a table at ``InformationRegister_ЦеныНоменклатуры25/SliceLast(...)``.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from erp_simulator.onec import Row

__all__ = [
    "VIRTUAL_TABLES",
    "EntitySet",
    "EntitySetRegistry",
    "RowProvider",
    "UnknownEntitySetError",
]

VIRTUAL_TABLES = (
    "SliceLast",
    "SliceFirst",
    "Balance",
    "Turnovers",
    "BalanceAndTurnovers",
)
"""Virtual tables of 1C registers that the OData interface serves."""

RowProvider = Callable[[], list[Row]]
"""A function that returns the current rows of an entity set.

It returns a new list each call, and callers never change the rows in it.
"""


class UnknownEntitySetError(LookupError):
    """Raised when no entity set is served under a path segment."""

    def __init__(self, segment: str) -> None:
        super().__init__(segment)
        self.segment = segment

    def __str__(self) -> str:
        return f"entity set {self.segment!r} is not served"


@dataclass(frozen=True)
class EntitySet:
    """A served entity set: its name, its rows and its key field, if any.

    ``key_field`` is the field a single record is addressed by, as in
    ``Catalog_Номенклатура(guid'...')``, or None for registers.
    """

    name: str
    rows: RowProvider
    key_field: str | None = None

    @property
    def virtual_table(self) -> str | None:
        """The virtual table (``SliceLast``) the name ends with, or None."""
        for table in VIRTUAL_TABLES:
            if self.name.endswith(f"_{table}"):
                return table
        return None

    @property
    def path(self) -> str:
        """The URL path of the set below the OData root, without parameters."""
        table = self.virtual_table
        if table is None:
            return self.name
        return f"{self.name.removesuffix(f'_{table}')}/{table}"


class EntitySetRegistry:
    """Entity sets by name, in the order they were added."""

    def __init__(self) -> None:
        self._sets: dict[str, EntitySet] = {}

    def add(self, entity_set: EntitySet) -> None:
        """Add ``entity_set``. Raises ValueError if its name is taken."""
        if entity_set.name in self._sets:
            raise ValueError(f"entity set {entity_set.name!r} is already registered")
        self._sets[entity_set.name] = entity_set

    def replace(self, entity_set: EntitySet) -> None:
        """Serve ``entity_set`` in place of the set of the same name.

        Raises UnknownEntitySetError if no set has that name.
        """
        self.get(entity_set.name)
        self._sets[entity_set.name] = entity_set

    def get(self, name: str) -> EntitySet:
        """Return the set named ``name``, or raise UnknownEntitySetError."""
        try:
            return self._sets[name]
        except KeyError:
            raise UnknownEntitySetError(name) from None

    def resolve(self, segment: str, virtual_table: str | None) -> EntitySet:
        """Return the set served at a path segment, or at its virtual table.

        ``segment`` is the first path segment below the OData root and
        ``virtual_table`` the name of the second one without its parameters,
        such as ``SliceLast``. A virtual table is served only below its
        register, never as a segment of its own. Raises
        UnknownEntitySetError naming the segment that is not served.
        """
        if virtual_table is None:
            entity_set = self._sets.get(segment)
            if entity_set is None or entity_set.virtual_table is not None:
                raise UnknownEntitySetError(segment)
            return entity_set
        entity_set = self._sets.get(f"{segment}_{virtual_table}")
        if entity_set is None or entity_set.virtual_table != virtual_table:
            raise UnknownEntitySetError(f"{segment}/{virtual_table}")
        return entity_set

    def names(self) -> list[str]:
        """Return the names of all sets, in the order they were added."""
        return list(self._sets)

    def __iter__(self) -> Iterator[EntitySet]:
        return iter(list(self._sets.values()))

    def __len__(self) -> int:
        return len(self._sets)
