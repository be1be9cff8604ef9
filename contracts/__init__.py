"""Contracts of retail-hub: entity models, message and API bodies, routing.

This package does no I/O. Everything public is listed in ``__all__``.
"""

from contracts.changes import (
    HEADER_ENTITY,
    HEADER_REV_FROM,
    HEADER_REV_TO,
    HEADER_SCHEMA_VERSION,
    HEADER_SCOPE,
    ChangeBatch,
    ChangeDocument,
    ChangesPage,
    ErrorBody,
    batch_message_id,
)
from contracts.entities import ENTITIES, EntitySpec, UnknownEntityError, get_entity
from contracts.hashing import canonical_json, document_hash
from contracts.items import Item
from contracts.prices import Price, PriceType
from contracts.reference import Store, Unit
from contracts.routing import (
    SCOPE_ALL,
    InvalidNameError,
    binding_keys,
    group_scope,
    queue_name,
    routing_key,
    store_scope,
    store_scopes,
    validate_name,
)
from contracts.stock import StockLevel

__all__ = [
    "ENTITIES",
    "HEADER_ENTITY",
    "HEADER_REV_FROM",
    "HEADER_REV_TO",
    "HEADER_SCHEMA_VERSION",
    "HEADER_SCOPE",
    "SCOPE_ALL",
    "ChangeBatch",
    "ChangeDocument",
    "ChangesPage",
    "EntitySpec",
    "ErrorBody",
    "InvalidNameError",
    "Item",
    "Price",
    "PriceType",
    "StockLevel",
    "Store",
    "Unit",
    "UnknownEntityError",
    "batch_message_id",
    "binding_keys",
    "canonical_json",
    "document_hash",
    "get_entity",
    "group_scope",
    "queue_name",
    "routing_key",
    "store_scope",
    "store_scopes",
    "validate_name",
]
