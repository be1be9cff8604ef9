"""Verify every store of a fleet against the hub, reading the hub's documents once.

``hub.verify.verify_store`` reads the hub's view of one store with one query,
and FerretDB's SQLite backend reads the whole ``documents`` collection for
each query, so a thousand stores would take hours. This module reads every
document of an entity once, builds each store's view from it by scope the
way ``hub.verify.hub_view`` does, and compares digests as ``verify_store``
does. Only for a store whose digest differs does it call ``verify_store``,
which narrows the difference down to keys.
"""

import asyncio
import logging
from collections import Counter
from typing import Any

from contracts.delivery import compute_digest
from hub.repository import Repository, translate_unavailable
from hub.stores import StoreRecord
from hub.verify import VerifyRow, verify_store
from store_agent.local_store import LocalStore

__all__ = ["HubSnapshot", "summarize", "verify_fleet_store"]

logger = logging.getLogger("bench.fleet")

# At most this many differing stores are narrowed down with verify_store,
# one query each.
_NARROWED_LIMIT = 20

Version = tuple[int, str, bool]
"""Revision, hash and deletion of one document."""


class HubSnapshot:
    """The hub's documents of one entity up to its committed revision, by scope."""

    def __init__(self, entity: str, committed: int) -> None:
        self.entity = entity
        self.committed = committed
        self.by_scope: dict[str, dict[str, Version]] = {}
        self.narrowed = 0

    @classmethod
    async def read(cls, repository: Repository, entity: str) -> "HubSnapshot":
        """Read every document of ``entity`` up to the committed revision."""
        committed = await repository.committed_revision(entity)
        snapshot = cls(entity, committed)
        query = {"entity": entity, "rev": {"$lte": committed}}
        projection = {"_id": 0, "key": 1, "rev": 1, "hash": 1, "deleted": 1, "scope": 1}
        async with translate_unavailable(f"reading documents of {entity}"):
            async for row in repository.db.documents.find(query, projection):
                versions = snapshot.by_scope.setdefault(row["scope"], {})
                known = versions.get(row["key"])
                # A crashed writer may have left a superseded version behind.
                if known is None or known[0] < row["rev"]:
                    versions[row["key"]] = (row["rev"], row["hash"], row["deleted"])
        return snapshot

    def view(self, store: StoreRecord) -> dict[str, str]:
        """Return ``key -> hash`` of the live documents ``store`` should hold."""
        newest: dict[str, Version] = {}
        for scope in store.scopes:
            for key, version in self.by_scope.get(scope, {}).items():
                known = newest.get(key)
                if known is None or known[0] < version[0]:
                    newest[key] = version
        return {key: version[1] for key, version in newest.items() if not version[2]}


async def verify_fleet_store(
    repository: Repository,
    snapshot: HubSnapshot,
    store: StoreRecord,
    local_store: LocalStore,
) -> VerifyRow:
    """Compare one store's copy of the snapshot's entity with the hub's view."""
    entity = snapshot.entity
    revision = await asyncio.to_thread(local_store.applied_revision, entity)
    local = await asyncio.to_thread(local_store.live_hashes, entity, revision)
    view = snapshot.view(store)
    row = VerifyRow(
        store.store_id,
        entity,
        revision,
        snapshot.committed,
        len(local),
        len(view),
        "match",
        hashes=2,
    )
    if revision < snapshot.committed:
        row.status = "behind"
        return row
    if revision > snapshot.committed:
        row.status = "ahead"
        return row
    ours = compute_digest(entity, revision, view.items()).sha256
    theirs = compute_digest(entity, revision, local.items()).sha256
    if ours == theirs:
        return row
    if snapshot.narrowed < _NARROWED_LIMIT:
        snapshot.narrowed += 1
        return await verify_store(repository, store, entity, local_store)
    row.status = "differs"
    return row


def summarize(rows: list[VerifyRow]) -> dict[str, Any]:
    """Return counts of the rows by entity and status, and the differing rows."""
    by_entity: dict[str, Counter[str]] = {}
    for row in rows:
        by_entity.setdefault(row.entity, Counter())[row.status] += 1
    problems = [row.as_dict() for row in rows if row.status != "match"]
    return {
        "checked": len(rows),
        "match": sum(row.status == "match" for row in rows),
        "by_entity": {entity: dict(counts) for entity, counts in by_entity.items()},
        "not_matching": problems[:50],
    }
