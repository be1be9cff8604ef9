"""Errors of the connectors.

ConnectorError
 ├── ErpError
 │    ├── ErpUnavailableError
 │    └── ErpResponseError
 ├── MassDeletionError
 ├── MappingFailedError
 └── LeaseHeldError
"""

__all__ = [
    "ConnectorError",
    "ErpError",
    "ErpResponseError",
    "ErpUnavailableError",
    "LeaseHeldError",
    "MappingFailedError",
    "MassDeletionError",
]


class ConnectorError(Exception):
    """Root of the connectors' errors."""


class ErpError(ConnectorError):
    """Raised when the ERP cannot give a usable response."""


class ErpUnavailableError(ErpError):
    """Raised when the ERP cannot be reached or does not respond in time."""


class ErpResponseError(ErpError):
    """Raised when the ERP responds with an error status or an unreadable body."""

    def __init__(self, status: int, url: str, message: str) -> None:
        super().__init__(status, url, message)
        self.status = status
        self.url = url
        self.message = message

    def __str__(self) -> str:
        return f"ERP answered HTTP {self.status} for {self.url}: {self.message}"


class MassDeletionError(ConnectorError):
    """Raised when a run would delete an implausible share of an entity."""

    def __init__(
        self, entity: str, deletions: int, live: int, max_share: float
    ) -> None:
        super().__init__(entity, deletions, live, max_share)
        self.entity = entity
        self.deletions = deletions
        self.live = live
        self.max_share = max_share

    def __str__(self) -> str:
        return (
            f"run of {self.entity} stopped before writing: it would delete "
            f"{self.deletions} of {self.live} documents, more than the allowed "
            f"share of {self.max_share:.0%}; check that the ERP returned its full "
            "data set, or raise RETAIL_HUB_MAX_DELETE_SHARE"
        )


class MappingFailedError(ConnectorError):
    """Raised when every record of a data set was quarantined."""

    def __init__(self, entity: str, quarantined: int, reason: str) -> None:
        super().__init__(entity, quarantined, reason)
        self.entity = entity
        self.quarantined = quarantined
        self.reason = reason

    def __str__(self) -> str:
        return (
            f"every one of the {self.quarantined} records of {self.entity} was"
            f" quarantined (first reason: {self.reason}); check the entity's"
            " mapping in the connectors file"
        )


class LeaseHeldError(ConnectorError):
    """Raised when another connector process is running the same entity."""
