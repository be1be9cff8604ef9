"""The entities the hub carries, and the contract model of each."""

from dataclasses import dataclass

from pydantic import BaseModel

from contracts.items import Item
from contracts.prices import Price, PriceType
from contracts.reference import Store, Unit
from contracts.stock import StockLevel

__all__ = ["ENTITIES", "EntitySpec", "UnknownEntityError", "get_entity"]


@dataclass(frozen=True)
class EntitySpec:
    """One entity: its name in routing keys and URLs, and its contract model."""

    name: str
    model: type[BaseModel]
    schema_version: int


class UnknownEntityError(KeyError):
    """Raised when an entity name is not one the hub carries."""

    def __str__(self) -> str:
        known = ", ".join(sorted(ENTITIES))
        return f"unknown entity {self.args[0]!r}; known entities: {known}"


_MODELS: tuple[type[Item | Price | PriceType | StockLevel | Store | Unit], ...] = (
    Item,
    Price,
    PriceType,
    StockLevel,
    Store,
    Unit,
)

ENTITIES: dict[str, EntitySpec] = {
    model.entity: EntitySpec(model.entity, model, model.schema_version)
    for model in _MODELS
}


def get_entity(name: str) -> EntitySpec:
    """Return the spec of entity ``name``, or raise UnknownEntityError."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise UnknownEntityError(name) from None
