"""The repository: the latest version of every document, in MongoDB.

The repository is the source of truth; queues only speed delivery. Each entity
has one increasing revision counter, and a document gets a new revision only
when its content hash changes. Three numbers per entity live in the
``revisions`` collection:

- ``reserved``: the highest revision handed out to a writer;
- ``committed``: every document with a revision up to this one is written,
  so readers (the publisher and the pull API) never look above it;
- ``published``: the publisher's watermark, the last revision the broker
  confirmed.

A writer reserves a block of revisions, writes its documents, and only then
moves ``committed``. A writer that crashes half-way leaves documents above
``committed`` that no reader sees until the next writer commits past them, so
nothing half-written is ever published, without multi-document transactions.

Writes only insert. Every version is its own MongoDB document, and the
versions a write supersedes stay until ``compact`` deletes them. Readers keep
the newest version of each key, and a store applies only newer revisions, so
an older version read beside a newer one changes nothing. Inserting rather
than updating or deleting in place keeps writes fast on FerretDB's SQLite
backend, which reads the whole collection for every update and delete.

Two in-process caches spare the reads that cost most on such servers:

- the index of each entity (hash, deletion state and scope by key), kept
  after ``load_index`` and updated by ``write_changes``. It is used only
  while the entity's ``reserved`` and ``committed`` revisions are the ones
  it was built at, so a write by any other process makes the next
  ``load_index`` read the collection again;
- the documents of the last write of each entity, which the publisher reads
  back through ``iter_changes_with_scope`` right after the write, until the
  watermark passes them.
"""

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from connectors.mapping import QuarantinedRecord
from contracts import ChangeDocument
from hub.errors import RepositoryUnavailableError
from hub.settings import Settings

__all__ = [
    "ChangeRow",
    "IndexEntry",
    "PendingChange",
    "Repository",
    "is_busy",
    "translate_unavailable",
]

logger = logging.getLogger(__name__)

_WRITE_CHUNK = 1000
_DELETE_CHUNK = 5000
# A write of more documents than this is read back from the server instead
# of being kept in memory for the publisher.
_RECENT_MAX_DOCUMENTS = 200_000
# ``compact`` runs once superseded versions exceed this share of an entity's
# documents, and at least this many of them.
COMPACT_SHARE = 0.1
COMPACT_MIN_VERSIONS = 1000
_UNAVAILABLE_ERRORS = (ServerSelectionTimeoutError, ConnectionFailure, AutoReconnect)
# MongoDB's codes for a write that lost a race with another write, and for a
# duplicate key.
_WRITE_CONFLICT = 112
_DUPLICATE_KEY = 11000


def is_busy(error: Exception) -> bool:
    """Return True for a write the server refused only because of other writes.

    MongoDB reports a write conflict. FerretDB's SQLite backend, whose
    writes take one lock for the whole database, reports "database is
    locked". The same write may succeed a moment later.
    """
    # A bulk write's error text contains the documents it wrote, so only the
    # server's own message of a single command is searched.
    if not isinstance(error, OperationFailure) or isinstance(error, BulkWriteError):
        return False
    if error.code == _WRITE_CONFLICT or error.has_error_label(
        "TransientTransactionError"
    ):
        return True
    details = error.details if isinstance(error.details, dict) else {}
    return error.code != _DUPLICATE_KEY and "database is locked" in str(
        details.get("errmsg", "")
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A document to write: new content, or a tombstone when ``data`` is None."""

    key: str
    hash: str
    scope: str
    data: dict[str, Any] | None
    replaces: bool = True
    """False when no version of ``key`` is stored yet."""
    encoded: bytes | None = None
    """The canonical JSON of ``data``, when the caller already made it."""
    moves_scope: bool = False
    """True when the stored version of ``key`` has another scope."""

    @property
    def deleted(self) -> bool:
        return self.data is None


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the diff needs to know of a stored document."""

    hash: str
    deleted: bool
    scope: str


@dataclass(slots=True)
class _CachedIndex:
    reserved: int
    committed: int
    entries: dict[str, IndexEntry]


class ChangeRow(NamedTuple):
    """A committed document as the publisher and the pull API read it."""

    scope: str
    document: ChangeDocument
    body: bytes | None = None
    """The document's JSON, when the writer encoded it already."""

    def encode(self) -> bytes:
        """Return the document as JSON, as messages and pages list it."""
        if self.body is not None:
            return self.body
        return self.document.model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class _RecentWrite:
    first: int
    last: int
    rows: list[ChangeRow]

    def covers(self, after: int, up_to: int) -> bool:
        return self.first - 1 <= after and up_to <= self.last


class _SupersededVersions:
    """The ids of versions that a newer version of the same key supersedes."""

    def __init__(self) -> None:
        self.ids: list[Any] = []
        self._newest: dict[str, tuple[int, Any]] = {}

    def add(self, key: str, revision: int, version_id: Any) -> None:
        """Count one stored version, in any order of revisions."""
        known = self._newest.get(key)
        if known is not None and known[0] > revision:
            self.ids.append(version_id)
            return
        if known is not None:
            self.ids.append(known[1])
        self._newest[key] = (revision, version_id)


@asynccontextmanager
async def translate_unavailable(action: str) -> AsyncIterator[None]:
    """Turn PyMongo's connection errors inside the block into one error type.

    A write refused because the server is busy with other writes
    (``is_busy``) counts as unavailable too: the caller may retry it later.
    """
    try:
        yield
    except OperationFailure as exc:
        if not is_busy(exc):
            raise
        raise RepositoryUnavailableError(
            f"repository busy while {action}: {str(exc)[:300]}; retry later"
        ) from exc
    except _UNAVAILABLE_ERRORS as exc:
        # Callers handle one error type for "MongoDB is down", whatever
        # PyMongo raised on the way.
        # PyMongo's message ends with a long topology description.
        reason = str(exc).split(", Timeout:")[0][:300]
        raise RepositoryUnavailableError(
            f"repository unavailable while {action}: {reason}; check"
            " RETAIL_HUB_MONGO_URL and that the server runs"
        ) from exc


class Repository:
    """Documents, revisions and watermarks of every entity."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.client = client
        self.db: AsyncDatabase[dict[str, Any]] = client[database]
        self._indexes: dict[str, _CachedIndex] = {}
        self._recent: dict[str, _RecentWrite] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "Repository":
        """Create a repository client; it connects on first use."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_url,
            serverSelectionTimeoutMS=settings.mongo_timeout_ms,
            connectTimeoutMS=settings.mongo_timeout_ms,
            tz_aware=True,
        )
        return cls(client, settings.mongo_database)

    async def close(self) -> None:
        await self.client.close()

    async def ensure_indexes(self) -> None:
        """Create the indexes every query relies on; safe to call on every start."""
        async with translate_unavailable("creating indexes"):
            await self.db.documents.create_index(
                [("entity", ASCENDING), ("rev", ASCENDING)], name="entity_rev"
            )
            await self.db.documents.create_index(
                [("entity", ASCENDING), ("key", ASCENDING)], name="entity_key"
            )

    async def ping(self) -> None:
        """Raise RepositoryUnavailableError unless the server responds."""
        async with translate_unavailable("pinging"):
            await self.client.admin.command("ping")

    # Revisions ---------------------------------------------------------------

    async def _revisions(self, entity: str) -> dict[str, Any]:
        async with translate_unavailable(f"reading revisions of {entity}"):
            doc = await self.db.revisions.find_one({"_id": entity})
        return doc or {}

    async def commit(self, entity: str, revision: int) -> None:
        """Make every document of ``entity`` up to ``revision`` visible to readers."""
        async with translate_unavailable(f"committing revisions of {entity}"):
            await self.db.revisions.update_one(
                {"_id": entity}, {"$max": {"committed": revision}}
            )

    async def _commit_interrupted(self, entity: str) -> int:
        """Commit what a writer that died before its commit left; return ``committed``.

        ``load_index`` counts those versions as stored, so a run that finds
        nothing new must still make them visible. The connector's lease makes
        sure no other writer of ``entity`` is running.
        """
        revisions = await self._revisions(entity)
        reserved = int(revisions.get("reserved", 0))
        committed = int(revisions.get("committed", 0))
        if reserved <= committed:
            return committed
        await self.commit(entity, reserved)
        cached = self._indexes.get(entity)
        if cached is not None and cached.reserved == reserved:
            cached.committed = reserved
        logger.warning(
            "committed revisions %d-%d of %s left by an interrupted write",
            committed + 1,
            reserved,
            entity,
        )
        return reserved

    async def committed_revision(self, entity: str) -> int:
        """Return the revision up to which every document of ``entity`` is written."""
        return int((await self._revisions(entity)).get("committed", 0))

    async def committed_and_published(self, entity: str) -> tuple[int, int]:
        """Return the committed revision and the watermark of ``entity``."""
        revisions = await self._revisions(entity)
        return int(revisions.get("committed", 0)), int(revisions.get("published", 0))

    async def published_revision(self, entity: str) -> int:
        """Return the publisher's watermark of ``entity``."""
        return int((await self._revisions(entity)).get("published", 0))

    async def advance_watermark(self, entity: str, revision: int) -> None:
        """Record that the broker confirmed ``entity`` up to ``revision``."""
        async with translate_unavailable(f"moving the watermark of {entity}"):
            await self.db.revisions.update_one(
                {"_id": entity}, {"$max": {"published": revision}}, upsert=True
            )
        recent = self._recent.get(entity)
        if recent is not None and revision >= recent.last:
            del self._recent[entity]

    # Documents ---------------------------------------------------------------

    async def load_index(self, entity: str) -> dict[str, IndexEntry]:
        """Return the hash, deletion state and scope of every document of ``entity``.

        Versions above ``committed`` count too: they are real ERP data that a
        crashed writer stored, and the next commit makes them visible. The
        result comes from memory while no other process wrote ``entity``
        since this one last read or wrote it. Otherwise every document is
        read, and committed versions that a newer committed version
        supersedes are deleted.
        """
        revisions = await self._revisions(entity)
        reserved = int(revisions.get("reserved", 0))
        committed = int(revisions.get("committed", 0))
        cached = self._indexes.get(entity)
        if (
            cached is not None
            and cached.reserved == reserved
            and cached.committed == committed
        ):
            return dict(cached.entries)

        self._indexes.pop(entity, None)
        index: dict[str, IndexEntry] = {}
        newest: dict[str, int] = {}
        superseded = _SupersededVersions()
        projection = {"key": 1, "rev": 1, "hash": 1, "deleted": 1, "scope": 1}
        async with translate_unavailable(f"reading documents of {entity}"):
            async for doc in self.db.documents.find({"entity": entity}, projection):
                key, revision = doc["key"], doc["rev"]
                if revision > newest.get(key, 0):
                    newest[key] = revision
                    index[key] = IndexEntry(doc["hash"], doc["deleted"], doc["scope"])
                # Readers stop at ``committed``, so a version above it
                # supersedes nothing yet. Until the next commit, readers
                # still need the newest committed version of its key.
                if revision <= committed:
                    superseded.add(key, revision, doc["_id"])
            await self._delete_versions(entity, superseded.ids)
        self._indexes[entity] = _CachedIndex(reserved, committed, index)
        return dict(index)

    async def compact(self, entity: str) -> int:
        """Delete the committed versions of ``entity`` that newer ones superseded.

        Reads every document once. Versions above ``committed`` and the ones
        they replace stay, so readers never lose the newest committed version
        of a key. Returns the number of versions deleted.
        """
        committed = await self.committed_revision(entity)
        superseded = _SupersededVersions()
        query = {"entity": entity, "rev": {"$lte": committed}}
        async with translate_unavailable(f"compacting documents of {entity}"):
            async for doc in self.db.documents.find(query, {"key": 1, "rev": 1}):
                superseded.add(doc["key"], doc["rev"], doc["_id"])
            await self._delete_versions(entity, superseded.ids)
            await self.db.revisions.update_one(
                {"_id": entity}, {"$set": {"superseded": 0}}
            )
        return len(superseded.ids)

    async def compact_if_needed(self, entity: str, documents: int) -> int:
        """Run ``compact`` when superseded versions exceed ``COMPACT_SHARE``.

        ``documents`` is the number of current documents of ``entity``
        (the size of its index). Returns the number of versions deleted.
        """
        revisions = await self._revisions(entity)
        superseded = int(revisions.get("superseded", 0))
        if superseded < max(COMPACT_MIN_VERSIONS, COMPACT_SHARE * documents):
            return 0
        return await self.compact(entity)

    async def _delete_versions(self, entity: str, ids: list[Any]) -> None:
        # Each delete reads the whole collection on FerretDB, so the ids go
        # in few, large requests.
        for start in range(0, len(ids), _DELETE_CHUNK):
            chunk = ids[start : start + _DELETE_CHUNK]
            await self.db.documents.delete_many({"_id": {"$in": chunk}})
        if ids:
            logger.info("deleted %d superseded versions of %s", len(ids), entity)

    async def write_changes(self, entity: str, changes: list[PendingChange]) -> int:
        """Write ``changes`` with new revisions, commit them, return the last one.

        Revisions follow the order of ``changes``. With nothing to write, it
        commits what an interrupted earlier write left and returns the
        committed revision. The versions the changes replace stay until
        ``compact``; the revisions record counts them as ``superseded``.
        """
        if not changes:
            return await self._commit_interrupted(entity)

        cached = self._indexes.pop(entity, None)
        replaced = sum(1 for change in changes if change.replaces)
        async with translate_unavailable(f"writing documents of {entity}"):
            counter = await self.db.revisions.find_one_and_update(
                {"_id": entity},
                {"$inc": {"reserved": len(changes), "superseded": replaced}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            if counter is None:  # an upsert with AFTER always returns a document
                raise RepositoryUnavailableError(
                    f"revision counter of {entity} missing"
                )
            last = int(counter["reserved"])
            first = last - len(changes) + 1
            now = datetime.now(UTC)
            for start in range(0, len(changes), _WRITE_CHUNK):
                chunk = changes[start : start + _WRITE_CHUNK]
                rows = [
                    _version(entity, change, first + start + i, now)
                    for i, change in enumerate(chunk)
                ]
                await self.db.documents.insert_many(rows, ordered=False)

            await self.commit(entity, last)
            # A version left in its old scope would stay in that scope's view
            # until compaction, so a move deletes it now. Moves are rare, and
            # each delete reads the whole collection on FerretDB.
            moved = [change.key for change in changes if change.moves_scope]
            for start in range(0, len(moved), _DELETE_CHUNK):
                await self.db.documents.delete_many(
                    {
                        "entity": entity,
                        "key": {"$in": moved[start : start + _DELETE_CHUNK]},
                        "rev": {"$lt": first},
                    }
                )

        if len(changes) <= _RECENT_MAX_DOCUMENTS:
            self._recent[entity] = _RecentWrite(
                first, last, _written_rows(changes, first)
            )
        # The cached index stays valid only if this write followed it
        # directly: no other writer reserved revisions in between.
        if cached is not None and cached.reserved == first - 1:
            for change in changes:
                cached.entries[change.key] = IndexEntry(
                    change.hash, change.deleted, change.scope
                )
            cached.reserved = cached.committed = last
            self._indexes[entity] = cached

        logger.info(
            "committed %d changes of %s as revisions %d-%d",
            len(changes),
            entity,
            first,
            last,
        )
        return last

    async def changes_after(
        self,
        entity: str,
        after: int,
        limit: int,
        *,
        up_to: int,
        scopes: list[str] | None = None,
    ) -> list[ChangeDocument]:
        """Return up to ``limit`` documents with after < rev <= up_to, by revision.

        With ``scopes``, only documents meant for one of them are returned.
        """
        query: dict[str, Any] = {"entity": entity, "rev": {"$gt": after, "$lte": up_to}}
        if scopes is not None:
            query["scope"] = {"$in": scopes}
        cursor = self.db.documents.find(query, _CHANGE_PROJECTION).sort(
            "rev", ASCENDING
        )
        async with translate_unavailable(f"reading changes of {entity}"):
            rows = await cursor.limit(limit).to_list(limit)
        return [_change_document(row) for row in rows]

    async def iter_changes_with_scope(
        self, entity: str, after: int, chunk: int, *, up_to: int
    ) -> AsyncGenerator[list[ChangeRow], None]:
        """Yield every document with after < rev <= up_to and its scope, in chunks.

        The documents come in revision order, at most ``chunk`` at a time,
        from one query, or from memory when this process wrote them last.
        """
        recent = self._recent.get(entity)
        if recent is not None and recent.covers(after, up_to):
            start = after - recent.first + 1
            stop = up_to - recent.first + 1
            for offset in range(start, stop, chunk):
                yield recent.rows[offset : min(offset + chunk, stop)]
            return

        query = {"entity": entity, "rev": {"$gt": after, "$lte": up_to}}
        projection = {**_CHANGE_PROJECTION, "scope": 1}
        cursor = (
            self.db.documents.find(query, projection)
            .sort("rev", ASCENDING)
            .batch_size(chunk)
        )
        rows: list[ChangeRow] = []
        try:
            async with translate_unavailable(f"reading changes of {entity}"):
                async for row in cursor:
                    rows.append(ChangeRow(row["scope"], _change_document(row)))
                    if len(rows) == chunk:
                        yield rows
                        rows = []
        finally:
            await cursor.close()
        if rows:
            yield rows

    async def live_documents(
        self, entity: str, scopes: list[str] | None = None
    ) -> dict[str, ChangeDocument]:
        """Return every document of ``entity`` that is not deleted, by key."""
        committed = await self.committed_revision(entity)
        query: dict[str, Any] = {"entity": entity, "rev": {"$lte": committed}}
        if scopes is not None:
            query["scope"] = {"$in": scopes}
        newest: dict[str, ChangeDocument] = {}
        async with translate_unavailable(f"reading documents of {entity}"):
            async for row in self.db.documents.find(query, _CHANGE_PROJECTION):
                known = newest.get(row["key"])
                # A crashed writer may have left a superseded version behind.
                if known is None or known.rev < row["rev"]:
                    newest[row["key"]] = _change_document(row)
        return {key: doc for key, doc in newest.items() if not doc.deleted}

    # Runs and quarantine ----------------------------------------------------

    async def record_run(self, run: dict[str, Any]) -> None:
        """Store or replace the record of a connector run (keyed by ``_id``)."""
        async with translate_unavailable("recording a run"):
            await self.db.runs.replace_one({"_id": run["_id"]}, run, upsert=True)

    async def recent_runs(
        self, entity: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Return the latest connector runs, newest first."""
        query = {} if entity is None else {"entity": entity}
        cursor = self.db.runs.find(query).sort("started_at", -1).limit(limit)
        async with translate_unavailable("reading runs"):
            return await cursor.to_list(limit)

    async def quarantine(
        self, entity: str, run_id: str, records: "list[QuarantinedRecord]"
    ) -> None:
        """Store records that failed mapping, with their reason, for an operator."""
        if not records:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "entity": entity,
                "run_id": run_id,
                "key": record.key,
                "reason": record.reason,
                "record": record.record,
                "at": now,
            }
            for record in records
        ]
        async with translate_unavailable("storing quarantined records"):
            await self.db.quarantine.insert_many(rows)


_CHANGE_PROJECTION = {"_id": 0, "key": 1, "rev": 1, "hash": 1, "deleted": 1, "data": 1}


def _version(
    entity: str, change: PendingChange, revision: int, now: datetime
) -> dict[str, Any]:
    return {
        "entity": entity,
        "key": change.key,
        "rev": revision,
        "hash": change.hash,
        "deleted": change.deleted,
        "scope": change.scope,
        "data": change.data,
        "updated_at": now,
    }


def _written_rows(changes: list[PendingChange], first: int) -> list[ChangeRow]:
    rows = []
    for position, change in enumerate(changes):
        revision = first + position
        # The fields come from a validated write, so the model skips validation.
        document = ChangeDocument.model_construct(
            key=change.key,
            rev=revision,
            deleted=change.deleted,
            hash=change.hash,
            data=change.data,
        )
        body = None
        if change.encoded is not None:
            # The same fields in the same order as ChangeDocument's JSON.
            body = b"".join(
                [
                    b'{"key":',
                    json.dumps(change.key, ensure_ascii=False).encode(),
                    f',"rev":{revision},"deleted":false,"hash":"{change.hash}",'
                    '"data":'.encode(),
                    change.encoded,
                    b"}",
                ]
            )
        rows.append(ChangeRow(change.scope, document, body))
    return rows


def _change_document(row: dict[str, Any]) -> ChangeDocument:
    return ChangeDocument(
        key=row["key"],
        rev=row["rev"],
        deleted=row["deleted"],
        hash=row["hash"],
        data=row.get("data"),
    )
