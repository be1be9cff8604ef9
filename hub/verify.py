"""Verify stores' copies against the hub and narrow a difference down to keys.

Two ways to check a store:

- ``verify_reported`` compares the digest a store's agent sent with its last
  heartbeat with the hub's digest of that store's view at the same revision.
  It needs nothing but the repository.
- ``verify_store`` opens the store's SQLite copy (when the caller can reach
  the file), and on a mismatch descends the bucket tree of
  ``contracts.buckets`` to the keys that differ, and with ``repair``
  overwrites exactly those rows with the hub's versions.

The agent runs the same descent against ``GET /v1/stores/{id}/buckets/{entity}``
on a schedule (``store_agent.verify``).
"""

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from contracts import ChangeDocument
from contracts.buckets import BucketsAnswer, Narrowing, answer_buckets, narrow_down
from contracts.delivery import Digest, compute_digest
from hub.repository import Repository, translate_unavailable
from hub.stores import StoreRecord
from store_agent.local_store import LocalStore

__all__ = [
    "VerifyRow",
    "current_documents",
    "hub_view",
    "verify_reported",
    "verify_store",
]

logger = logging.getLogger(__name__)

Status = Literal["match", "differs", "repaired", "behind", "ahead", "no digest"]


@dataclass
class VerifyRow:
    """The result of verifying one entity of one store.

    ``status`` is ``match``, ``differs``, ``repaired``, ``behind`` (the store
    has not applied the committed revision yet, so the digests cannot be
    compared), ``ahead`` (the store reports a revision above the committed
    one) or ``no digest`` (no heartbeat with a digest yet). ``hashes`` counts
    the hashes the comparison moved between hub and store.
    """

    store_id: str
    entity: str
    revision: int
    hub_revision: int
    store_count: int | None
    hub_count: int
    status: Status
    differing: int = 0
    hashes: int = 0
    missing: list[str] | None = None
    extra: list[str] | None = None
    different: list[str] | None = None

    @property
    def differs(self) -> bool:
        """True while the store's copy is known to differ from the hub's."""
        return self.status == "differs"

    def as_dict(self) -> dict[str, Any]:
        """Return the row as JSON-ready values."""
        return asdict(self)


async def hub_view(
    repository: Repository, store: StoreRecord, entity: str, revision: int
) -> dict[str, str]:
    """Return ``key -> hash`` of the live documents a store should hold.

    Only versions up to ``revision`` count. The repository keeps only the
    latest version of each document, so the view is exact only at the
    committed revision.
    """
    query = {
        "entity": entity,
        "rev": {"$lte": revision},
        "scope": {"$in": store.scopes},
    }
    projection = {"_id": 0, "key": 1, "rev": 1, "hash": 1, "deleted": 1}
    newest: dict[str, tuple[int, str, bool]] = {}
    async with translate_unavailable(f"reading documents of {entity}"):
        async for row in repository.db.documents.find(query, projection):
            known = newest.get(row["key"])
            # A crashed writer may have left a superseded version behind.
            if known is None or known[0] < row["rev"]:
                newest[row["key"]] = (row["rev"], row["hash"], row["deleted"])
    return {
        key: document_hash
        for key, (_, document_hash, deleted) in newest.items()
        if not deleted
    }


async def current_documents(
    repository: Repository, store: StoreRecord, entity: str, keys: Iterable[str]
) -> tuple[int, list[ChangeDocument]]:
    """Return the committed revision and the newest versions of ``keys``.

    Tombstones are included; keys outside the store's scopes are left out.
    """
    committed = await repository.committed_revision(entity)
    query = {
        "entity": entity,
        "key": {"$in": sorted(set(keys))},
        "rev": {"$lte": committed},
        "scope": {"$in": store.scopes},
    }
    projection = {"_id": 0, "key": 1, "rev": 1, "hash": 1, "deleted": 1, "data": 1}
    newest: dict[str, ChangeDocument] = {}
    async with translate_unavailable(f"reading documents of {entity}"):
        async for row in repository.db.documents.find(query, projection):
            known = newest.get(row["key"])
            if known is None or known.rev < row["rev"]:
                newest[row["key"]] = ChangeDocument(
                    key=row["key"],
                    rev=row["rev"],
                    deleted=row["deleted"],
                    hash=row["hash"],
                    data=row.get("data"),
                )
    return committed, [newest[key] for key in sorted(newest)]


def _revision_status(revision: int, committed: int) -> Status | None:
    if revision < committed:
        return "behind"
    if revision > committed:
        return "ahead"
    return None


async def verify_reported(
    repository: Repository,
    store: StoreRecord,
    entity: str,
    reported: Digest | None,
) -> VerifyRow:
    """Compare the digest a store reported with the hub's, at the same revision."""
    committed = await repository.committed_revision(entity)
    if reported is None:
        view = await hub_view(repository, store, entity, committed)
        return VerifyRow(
            store.store_id, entity, 0, committed, None, len(view), "no digest"
        )
    revision = min(reported.revision, committed)
    view = await hub_view(repository, store, entity, revision)
    row = VerifyRow(
        store.store_id,
        entity,
        reported.revision,
        committed,
        reported.count,
        len(view),
        "match",
        hashes=2,
    )
    status = _revision_status(reported.revision, committed)
    if status is not None:
        row.status = status
        return row
    digest = compute_digest(entity, revision, view.items())
    if (digest.count, digest.sha256) != (reported.count, reported.sha256):
        row.status = "differs"
    return row


async def verify_store(
    repository: Repository,
    store: StoreRecord,
    entity: str,
    local_store: LocalStore,
    repair: bool = False,
) -> VerifyRow:
    """Compare a store's SQLite copy with the hub, narrow a difference, repair it.

    The copy is compared at its applied revision, which must equal the
    committed revision. With ``repair``, the differing rows are overwritten
    with the hub's current versions, and the row's status becomes
    ``repaired`` once the digests match again.
    """
    committed = await repository.committed_revision(entity)
    revision = await asyncio.to_thread(local_store.applied_revision, entity)
    local = await asyncio.to_thread(local_store.live_hashes, entity, revision)
    view = await hub_view(repository, store, entity, min(revision, committed))
    row = VerifyRow(
        store.store_id, entity, revision, committed, len(local), len(view), "match"
    )
    status = _revision_status(revision, committed)
    if status is not None:
        row.status = status
        return row

    # The store's digest against the hub's: one hash each way.
    row.hashes = 2
    if _digest(entity, revision, local) == _digest(entity, revision, view):
        return row

    async def fetch(prefix: str) -> BucketsAnswer:
        return answer_buckets(entity, revision, view, prefix)

    narrowing = await narrow_down(local, fetch, entity, revision)
    _record(row, narrowing)
    row.status = "differs"
    logger.warning(
        "store %s: %s differs from the hub at revision %d: %d missing, %d extra,"
        " %d different (%d hashes exchanged)",
        store.store_id,
        entity,
        revision,
        len(narrowing.missing),
        len(narrowing.extra),
        len(narrowing.different),
        row.hashes,
    )
    if not repair:
        return row

    keys = narrowing.missing + narrowing.extra + narrowing.different
    _, documents = await current_documents(repository, store, entity, keys)
    sent = {document.key for document in documents}
    removed = [key for key in narrowing.extra if key not in sent]
    await asyncio.to_thread(local_store.repair, entity, documents, removed)
    repaired = await asyncio.to_thread(local_store.live_hashes, entity, revision)
    row.store_count = len(repaired)
    if _digest(entity, revision, repaired) == _digest(entity, revision, view):
        row.status = "repaired"
        logger.info(
            "store %s: repaired %d documents of %s",
            store.store_id,
            len(keys),
            entity,
        )
    return row


def _digest(entity: str, revision: int, documents: dict[str, str]) -> str:
    return compute_digest(entity, revision, documents.items()).sha256


def _record(row: VerifyRow, narrowing: Narrowing) -> None:
    row.hashes += narrowing.hashes
    row.differing = narrowing.differing
    row.missing = narrowing.missing
    row.extra = narrowing.extra
    row.different = narrowing.different
