"""The hub's HTTP API: changes for stores that pull, and the hub's health.

Every answer is JSON. Errors have the body ``{"error": code, "message": text}``:
404 for an unknown store or entity, 422 for an invalid parameter (the message
names it), and 503 with ``Retry-After`` while the repository is unreachable.
Each concern is a router module of this package; ``create_app`` joins them.
"""

from hub.api.app import create_app
from hub.api.changes import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from hub.api.errors import RETRY_AFTER_SECONDS

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "RETRY_AFTER_SECONDS", "create_app"]
