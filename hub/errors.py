"""Errors of the hub.

HubError
 ├── RepositoryUnavailableError
 ├── StoreNotFoundError
 └── StoreConflictError
"""

__all__ = [
    "HubError",
    "RepositoryUnavailableError",
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
