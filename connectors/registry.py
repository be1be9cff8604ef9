"""The connectors the hub runs, one per entity of the connectors file."""

import functools
import os

from connectors.config import CONFIG_ENV, ConnectorsConfig, EntityConfig, load_config
from connectors.declarative import read_entity
from connectors.engine import ConnectorSpec
from connectors.mapping import MappingResult
from connectors.odata import ODataClient
from contracts import UnknownEntityError

__all__ = ["build_connectors", "connector_spec", "get_connector"]


def connector_spec(config: EntityConfig) -> ConnectorSpec:
    """Return the spec that runs one configured entity through the engine."""

    async def read(erp: ODataClient) -> tuple[int, MappingResult]:
        return await read_entity(erp, config)

    return ConnectorSpec(config.entity, read, interval_seconds=config.interval_seconds)


def build_connectors(config: ConnectorsConfig) -> dict[str, ConnectorSpec]:
    """Return the spec of every entity in ``config``, by entity name."""
    return {name: connector_spec(entity) for name, entity in config.entities.items()}


@functools.cache
def _connectors_of_file(path: str) -> dict[str, ConnectorSpec]:
    return build_connectors(load_config(path or None))


def get_connector(entity: str, config: ConnectorsConfig | None = None) -> ConnectorSpec:
    """Return the connector of ``entity``, or raise UnknownEntityError.

    Without ``config``, the connectors file that RETAIL_HUB_CONNECTORS_FILE
    names (or the default one) is read once per process and path. Raises
    ConfigError when that file is invalid.
    """
    if config is not None:
        connectors = build_connectors(config)
    else:
        connectors = _connectors_of_file(os.environ.get(CONFIG_ENV, ""))
    try:
        return connectors[entity]
    except KeyError:
        raise UnknownEntityError(entity) from None
