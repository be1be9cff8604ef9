"""The revisions of each scope, so that a store's lag counts only its own.

A store receives the documents of its scopes: the scope of all stores, the
scopes of its groups and its own scope. For an entity scoped to single
stores (stock), its applied revision moves only when its own documents
change, while the hub's committed revision moves with every store's.
Measured against the committed revision, every such store would look
hundreds of revisions behind.

``ScopeRevisions`` reads the revision and scope of each new committed
document at every check, only those above the revision it read up to, and
keeps the newest ``keep`` revisions of each scope. A store's lag in an entity
is then the number of revisions in its scopes above its applied revision.
"""

import bisect
import logging
from array import array
from dataclasses import dataclass
from typing import Any

from contracts import SCOPE_ALL
from hub.repository import Repository, translate_unavailable

__all__ = ["ScopeLag", "ScopeRevisions"]

logger = logging.getLogger(__name__)

# Revisions kept per scope. A store further behind in one scope counts as
# this many revisions behind there.
_KEEP = 200_000


@dataclass(frozen=True)
class ScopeLag:
    """How far a store is behind in one entity, within its scopes."""

    revisions: int
    """Revisions of the store's scopes above its applied revision."""
    first: int | None
    """The lowest of them, None when there is none."""


class ScopeRevisions:
    """The committed revisions of every scope of every entity, read incrementally."""

    def __init__(self, keep: int = _KEEP) -> None:
        self.keep = keep
        self._read_up_to: dict[str, int] = {}
        self._revisions: dict[str, dict[str, array[int]]] = {}

    async def read(self, repository: Repository, committed: dict[str, int]) -> None:
        """Read the documents committed since the last read, in one query.

        When an entity's committed revision is below the one read up to (the
        repository was restored, or is another database), its revisions are
        read again from the start. Raises RepositoryUnavailableError when the
        repository cannot be reached; the next call reads the same range.
        """
        for entity, top in committed.items():
            if top < self._read_up_to.get(entity, 0):
                # The repository went back (a restore, or another database):
                # the revisions read so far may not exist there.
                logger.warning(
                    "%s went back from revision %d to %d; reading its scopes again",
                    entity,
                    self._read_up_to[entity],
                    top,
                )
                self._read_up_to[entity] = 0
                self._revisions.pop(entity, None)
        ranges = [
            {
                "entity": entity,
                "rev": {"$gt": self._read_up_to.get(entity, 0), "$lte": top},
            }
            for entity, top in committed.items()
            if top > self._read_up_to.get(entity, 0)
        ]
        if not ranges:
            return
        projection = {"_id": 0, "entity": 1, "scope": 1, "rev": 1}
        async with translate_unavailable("reading the revisions of each scope"):
            rows = await repository.db.documents.find(
                {"$or": ranges}, projection
            ).to_list(None)
        self.record(rows)
        for entity, top in committed.items():
            self._read_up_to[entity] = top

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Add documents' ``entity``, ``scope`` and ``rev``, above those recorded."""
        rows.sort(key=lambda row: int(row["rev"]))
        for row in rows:
            # The repository writes a scope with every document. One
            # without a scope counts in the scope of all stores.
            scope = row.get("scope", SCOPE_ALL)
            scopes = self._revisions.setdefault(row["entity"], {})
            scopes.setdefault(scope, array("q")).append(int(row["rev"]))
        for scopes in self._revisions.values():
            for revisions in scopes.values():
                if len(revisions) > self.keep:
                    del revisions[: len(revisions) - self.keep]

    def lag(self, entity: str, scopes: list[str], applied: int) -> ScopeLag:
        """Return how many revisions of ``scopes`` lie above ``applied``."""
        by_scope = self._revisions.get(entity, {})
        count = 0
        first: int | None = None
        for scope in scopes:
            revisions = by_scope.get(scope)
            if not revisions:
                continue
            start = bisect.bisect_right(revisions, applied)
            count += len(revisions) - start
            if start < len(revisions):
                lowest = revisions[start]
                first = lowest if first is None else min(first, lowest)
        return ScopeLag(count, first)
