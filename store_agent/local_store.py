"""The store's local copy of master data, in one SQLite file.

Each document is stored once per entity and key, with the revision of the
stored version. A version is written only when its revision is newer than the
stored one, so duplicates, replays and out-of-order deliveries change nothing.
Deleted documents stay as tombstone rows (deleted=1, data NULL), so an older
version replayed later cannot bring them back.

The methods are synchronous and take a lock, so one LocalStore may be used
from several threads. Async code calls them with ``asyncio.to_thread``.
"""

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pydantic_core import to_json

from contracts import ChangeDocument
from contracts.delivery import Digest, compute_digest

__all__ = ["ApplyResult", "EntityStatus", "LocalStore", "StoredDocument"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    hash TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (entity, key)
);
CREATE TABLE IF NOT EXISTS state (
    entity TEXT PRIMARY KEY,
    applied_rev INTEGER NOT NULL
);
"""

# The WHERE clause makes a row with an equal or older revision a no-op, which
# sqlite3 does not count in rowcount.
_UPSERT_DOCUMENT = """
INSERT INTO documents (entity, key, rev, deleted, hash, data)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (entity, key) DO UPDATE SET
    rev = excluded.rev,
    deleted = excluded.deleted,
    hash = excluded.hash,
    data = excluded.data
WHERE excluded.rev > documents.rev
"""

_REPLACE_DOCUMENT = """
INSERT OR REPLACE INTO documents (entity, key, rev, deleted, hash, data)
VALUES (?, ?, ?, ?, ?, ?)
"""

# The hash of a tombstone, as the hub's connectors write it.
_TOMBSTONE_HASH = "deleted"

_BURY_DOCUMENT = f"""
UPDATE documents SET deleted = 1, data = NULL, hash = '{_TOMBSTONE_HASH}'
WHERE entity = ? AND key = ? AND deleted = 0
"""

_RAISE_APPLIED_REV = """
INSERT INTO state (entity, applied_rev) VALUES (?, ?)
ON CONFLICT (entity) DO UPDATE SET
    applied_rev = max(state.applied_rev, excluded.applied_rev)
"""


@dataclass(frozen=True)
class ApplyResult:
    """Counts of one apply: documents written, and documents not newer than stored."""

    applied: int
    skipped_stale: int


@dataclass(frozen=True)
class StoredDocument:
    """One document of the local copy; ``data`` is None for a tombstone."""

    key: str
    rev: int
    deleted: bool
    hash: str
    data: dict[str, Any] | None


@dataclass(frozen=True)
class EntityStatus:
    """Counts of one entity in the local copy, and its applied revision."""

    entity: str
    documents: int
    tombstones: int
    applied_revision: int


class LocalStore:
    """A SQLite database that contains the store's copy of each entity.

    Opening creates the file and its tables if needed. Raises sqlite3.Error
    when the file cannot be opened or written.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # isolation_level=None: transactions are begun and ended explicitly.
        self._connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False
        )
        try:
            self._configure()
        except sqlite3.Error:
            self._connection.close()
            raise
        logger.debug("opened local store %s", self.path)

    def _configure(self) -> None:
        connection = self._connection
        connection.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, synchronous=NORMAL keeps the file consistent after a
        # crash but may lose the last commits on a power failure. Documents
        # and applied_rev are committed together, so such a loss moves
        # applied_rev back too, and the next catch-up pull fetches them again.
        connection.execute("PRAGMA synchronous=NORMAL")
        # A status reader in another process may briefly hold a lock.
        connection.execute("PRAGMA busy_timeout=5000")
        connection.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database, after any apply that is running."""
        with self._lock:
            self._connection.close()
        logger.debug("closed local store %s", self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def apply(
        self,
        entity: str,
        documents: Sequence[ChangeDocument],
        revision: int | None = None,
    ) -> ApplyResult:
        """Write the documents that are newer than stored, in one transaction.

        The entity's applied revision becomes the maximum of its old value,
        the revisions of ``documents`` and ``revision`` (a pull cursor that may
        be past the last document). Raises sqlite3.Error when the commit
        fails, and then nothing of the batch is written.
        """
        rows = [_document_row(entity, document) for document in documents]
        revisions = [document.rev for document in documents]
        if revision is not None:
            revisions.append(revision)

        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                cursor = connection.executemany(_UPSERT_DOCUMENT, rows)
                applied = max(cursor.rowcount, 0)
                if revisions:
                    connection.execute(_RAISE_APPLIED_REV, (entity, max(revisions)))
                connection.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself after some errors, such as a
                # failed write of the journal.
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

        return ApplyResult(applied=applied, skipped_stale=len(rows) - applied)

    def repair(
        self,
        entity: str,
        documents: Sequence[ChangeDocument],
        removed_keys: Sequence[str] = (),
    ) -> int:
        """Overwrite rows with the hub's versions, whatever their revision.

        ``apply`` keeps a row whose revision equals the incoming one, so it
        cannot fix a row that was changed behind the agent's back. This
        writes ``documents`` unconditionally and turns ``removed_keys`` (keys
        the hub does not send this store) into tombstones that keep their
        revision. The applied revision does not change. Returns the number
        of rows written. Raises sqlite3.Error when the commit fails, and then
        nothing is written.
        """
        rows = [_document_row(entity, document) for document in documents]
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                written = 0
                for row in rows:
                    connection.execute(_REPLACE_DOCUMENT, row)
                    written += 1
                for key in removed_keys:
                    cursor = connection.execute(_BURY_DOCUMENT, (entity, key))
                    written += max(cursor.rowcount, 0)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        logger.info(
            "repaired %d rows of %s in local store %s", written, entity, self.path
        )
        return written

    def applied_revision(self, entity: str) -> int:
        """Return the highest revision applied for ``entity``, or 0 if none."""
        row = self._fetch_one(
            "SELECT applied_rev FROM state WHERE entity = ?", (entity,)
        )
        return int(row[0]) if row else 0

    def rewind(self, entity: str, revision: int) -> None:
        """Lower the applied revision of ``entity`` to ``revision``; keep documents.

        The next pull starts from ``revision``. Documents already held stay,
        and a pulled version replaces one only if it is newer.
        """
        with self._lock:
            self._connection.execute(
                "UPDATE state SET applied_rev = min(applied_rev, ?) WHERE entity = ?",
                (revision, entity),
            )

    def count(self, entity: str) -> int:
        """Return the number of live documents (tombstones not counted)."""
        row = self._fetch_one(
            "SELECT count(*) FROM documents WHERE entity = ? AND deleted = 0",
            (entity,),
        )
        return int(row[0]) if row else 0

    def document(self, entity: str, key: str) -> StoredDocument | None:
        """Return the stored row of ``key``, tombstone included, or None."""
        row = self._fetch_one(
            "SELECT key, rev, deleted, hash, data FROM documents"
            " WHERE entity = ? AND key = ?",
            (entity, key),
        )
        return _stored_document(row) if row else None

    def live_documents(self, entity: str) -> dict[str, StoredDocument]:
        """Return every live document of ``entity`` by key."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT key, rev, deleted, hash, data FROM documents"
                " WHERE entity = ? AND deleted = 0",
                (entity,),
            ).fetchall()
        return {row[0]: _stored_document(row) for row in rows}

    def digest(self, entity: str, revision: int | None = None) -> Digest:
        """Return the digest of the live documents with rev up to ``revision``.

        ``revision`` defaults to the applied revision. The hub's digest route
        computes the same, so equal digests mean equal copies.
        """
        up_to = self.applied_revision(entity) if revision is None else revision
        with self._lock:
            rows = self._connection.execute(
                "SELECT key, hash FROM documents"
                " WHERE entity = ? AND deleted = 0 AND rev <= ?",
                (entity, up_to),
            ).fetchall()
        return compute_digest(entity, up_to, ((row[0], row[1]) for row in rows))

    def live_hashes(self, entity: str, revision: int | None = None) -> dict[str, str]:
        """Return ``key -> hash`` of the live documents with rev up to ``revision``.

        ``revision`` defaults to the applied revision, as in ``digest``.
        """
        up_to = self.applied_revision(entity) if revision is None else revision
        with self._lock:
            rows = self._connection.execute(
                "SELECT key, hash FROM documents"
                " WHERE entity = ? AND deleted = 0 AND rev <= ?",
                (entity, up_to),
            ).fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    def entities(self) -> list[str]:
        """Return the entities that have an applied revision, sorted."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT entity FROM state ORDER BY entity"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def status(self, entity: str) -> EntityStatus:
        """Return the live and tombstone counts and applied revision of ``entity``."""
        row = self._fetch_one(
            "SELECT coalesce(sum(deleted = 0), 0), coalesce(sum(deleted = 1), 0)"
            " FROM documents WHERE entity = ?",
            (entity,),
        )
        live, tombstones = (int(row[0]), int(row[1])) if row else (0, 0)
        return EntityStatus(
            entity=entity,
            documents=live,
            tombstones=tombstones,
            applied_revision=self.applied_revision(entity),
        )

    def _fetch_one(self, sql: str, parameters: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchone()


def _document_row(entity: str, document: ChangeDocument) -> tuple[Any, ...]:
    # A tombstone never keeps data, whatever the message carried.
    data = None
    if not document.deleted and document.data is not None:
        # For JSON values, pydantic-core writes the same text as json.dumps
        # with ensure_ascii=False and compact separators, in about a fifth of
        # the time (2.3 against 12 µs per 1 KB item, 2 CPUs, Python 3.11).
        data = to_json(document.data).decode()
    return (
        entity,
        document.key,
        document.rev,
        int(document.deleted),
        document.hash,
        data,
    )


def _stored_document(row: Any) -> StoredDocument:
    data = json.loads(row[4]) if row[4] is not None else None
    return StoredDocument(
        key=row[0], rev=int(row[1]), deleted=bool(row[2]), hash=row[3], data=data
    )
