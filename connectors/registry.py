"""The connectors the hub runs, one per entity."""

from connectors.engine import ConnectorSpec
from connectors.items import read_items
from contracts import UnknownEntityError

__all__ = ["CONNECTORS", "get_connector"]

CONNECTORS: dict[str, ConnectorSpec] = {
    "items": ConnectorSpec("items", read_items),
}


def get_connector(entity: str) -> ConnectorSpec:
    """Return the connector of ``entity``, or raise UnknownEntityError."""
    try:
        return CONNECTORS[entity]
    except KeyError:
        raise UnknownEntityError(entity) from None
