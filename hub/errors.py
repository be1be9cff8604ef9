"""Errors of the hub.

HubError
 ├── RepositoryUnavailableError
 ├── StoreNotFoundError
 ├── StoreConflictError
 ├── InvalidTokenError
 ├── StoreAccessDeniedError
 ├── BrokerManagementError
 └── ResyncRequiredError
"""

__all__ = [
    "BrokerManagementError",
    "HubError",
    "InvalidTokenError",
    "RepositoryUnavailableError",
    "ResyncRequiredError",
    "StoreAccessDeniedError",
    "StoreConflictError",
    "StoreNotFoundError",
]


class HubError(Exception):
    """Root of the hub's errors."""


class RepositoryUnavailableError(HubError):
    """Raised when the MongoDB repository cannot be reached in time."""


class StoreNotFoundError(HubError):
    """Raised when a store id is not registered."""

    def __init__(self, store_id: str) -> None:
        super().__init__(store_id)
        self.store_id = store_id

    def __str__(self) -> str:
        return (
            f"store {self.store_id!r} is not registered;"
            " register it with `retail-hub store add`"
        )


class StoreConflictError(HubError):
    """Raised when a store is registered again with different settings."""


class InvalidTokenError(HubError):
    """Raised when a request has no API token or one that no store holds."""


class StoreAccessDeniedError(HubError):
    """Raised when a valid API token of one store requests another store's data."""


class BrokerManagementError(HubError):
    """Raised when RabbitMQ's management API fails to create or change a user."""


class ResyncRequiredError(HubError):
    """Raised when a store must pull an entity again from an earlier revision.

    The store joined a group, so documents of the group below its cursor
    were never sent to it.
    """

    def __init__(self, store_id: str, entity: str, revision: int) -> None:
        super().__init__(store_id, entity, revision)
        self.store_id = store_id
        self.entity = entity
        self.revision = revision

    def __str__(self) -> str:
        return (
            f"store {self.store_id!r} must pull {self.entity} again from"
            f" after={self.revision} because its groups changed"
        )
