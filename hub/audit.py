"""The audit trail: one record per operator action on a store.

Records go to the ``audit`` collection as ``{at, actor, action, store_id,
details}``. They never contain a secret, only that one was made.
"""

import getpass
import logging
from datetime import UTC, datetime
from typing import Any

from hub.repository import Repository, translate_unavailable

__all__ = ["current_actor", "read_audit", "write_audit"]

logger = logging.getLogger(__name__)


def current_actor() -> str:
    """Return the name of the operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError) as error:
        # A container may run with a uid that has no passwd entry; the audit
        # record is still written, with a placeholder actor.
        logger.warning("cannot tell the user running the hub (%s)", error)
        return "unknown"


async def write_audit(
    repository: Repository,
    action: str,
    store_id: str,
    actor: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Insert one audit record of ``action`` on ``store_id`` by ``actor``.

    Raises RepositoryUnavailableError when the repository cannot be reached.
    """
    record = {
        "at": datetime.now(UTC),
        "actor": actor,
        "action": action,
        "store_id": store_id,
        "details": details or {},
    }
    async with translate_unavailable(f"writing the audit record of {store_id}"):
        await repository.db.audit.insert_one(record)


async def read_audit(repository: Repository, store_id: str) -> list[dict[str, Any]]:
    """Return the audit records of ``store_id``, oldest first, without ``_id``."""
    async with translate_unavailable(f"reading the audit records of {store_id}"):
        rows = (
            await repository.db.audit.find({"store_id": store_id}, {"_id": 0})
            .sort("at", 1)
            .to_list(None)
        )
    return rows
