"""The reference store agent: keeps a store's SQLite copy of master data.

It receives changes from the store's RabbitMQ queues or the hub's HTTP pull
API, and applies each document only when it is newer than the copy held.
"""

from store_agent.agent import StoreAgent
from store_agent.local_store import (
    ApplyResult,
    EntityStatus,
    LocalStore,
    StoredDocument,
)
from store_agent.settings import AgentSettings

__all__ = [
    "AgentSettings",
    "ApplyResult",
    "EntityStatus",
    "LocalStore",
    "StoreAgent",
    "StoredDocument",
]
