"""What the hub keeps about delivery to each store.

Two small collections, both read and written by ``_id``:

- ``cursors``: one document per ``<store id>:<entity>`` with the last
  revision the store acknowledged through the cursor API;
- ``store_state``: one document per store with its last heartbeat, the
  time of its last pull (``last_pull_at``, written at most once a minute), the
  entities whose queue was unbound because its backlog grew too long
  (``catching_up``), and the revisions an operator asked it to pull again
  from (``replay_from``).

A catch-up goes through three steps. The backlog check unbinds the store's
queue and records ``since``, the committed revision after the purge. Once a
heartbeat reports an applied revision of at least ``since``, the next check
binds the queue again and records ``rebound_at``, the committed revision
after binding; every change above it reaches the queue. Once a heartbeat
reports an applied revision of at least ``rebound_at``, the entry is removed.
Until then each heartbeat answer tells the agent to pull.
"""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from contracts.delivery import Digest, HeartbeatAnswer, HeartbeatRequest, compute_digest
from hub.repository import Repository, is_busy, translate_unavailable

__all__ = ["DeliveryState", "cursor_id"]

logger = logging.getLogger(__name__)

# A store-state write that the server refuses as busy is tried this many
# times, pausing this long times the attempt number in between.
_BUSY_ATTEMPTS = 3
_BUSY_PAUSE_SECONDS = 0.2


def cursor_id(store_id: str, entity: str) -> str:
    """Return the ``_id`` of a store's cursor document for ``entity``."""
    return f"{store_id}:{entity}"


class DeliveryState:
    """Cursors, heartbeats and catch-up marks of stores, in the repository."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self._cursors = repository.db.cursors
        self._states = repository.db.store_state

    # Cursors ---------------------------------------------------------------

    async def cursor(self, store_id: str, entity: str) -> int:
        """Return the revision of a store's cursor; 0 when it never acknowledged."""
        async with translate_unavailable(f"reading the cursor of store {store_id}"):
            row = await self._cursors.find_one({"_id": cursor_id(store_id, entity)})
        return int(row["revision"]) if row else 0

    async def ack(self, store_id: str, entity: str, revision: int) -> int:
        """Move a store's cursor forward to ``revision`` and return the cursor.

        A revision below the cursor leaves it unchanged. The caller checks
        that ``revision`` is not above the committed revision.
        """
        update = {
            "$max": {"revision": revision},
            "$set": {"store_id": store_id, "entity": entity},
        }
        async with translate_unavailable(f"moving the cursor of store {store_id}"):
            try:
                row = await self._cursors.find_one_and_update(
                    {"_id": cursor_id(store_id, entity)},
                    update,
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                # A concurrent first ack created the cursor; update it.
                logger.info("cursor of store %s created concurrently", store_id)
                row = await self._cursors.find_one_and_update(
                    {"_id": cursor_id(store_id, entity)},
                    update,
                    return_document=ReturnDocument.AFTER,
                )
        return int(row["revision"]) if row else revision

    async def set_cursor(self, store_id: str, entity: str, revision: int) -> None:
        """Set a store's cursor to ``revision``, backwards too (for a replay)."""
        async with translate_unavailable(f"setting the cursor of store {store_id}"):
            await self._cursors.replace_one(
                {"_id": cursor_id(store_id, entity)},
                {"store_id": store_id, "entity": entity, "revision": revision},
                upsert=True,
            )

    # Store state -----------------------------------------------------------

    async def state(self, store_id: str) -> dict[str, Any]:
        """Return a store's state document, or an empty one."""
        async with translate_unavailable(f"reading the state of store {store_id}"):
            row = await self._states.find_one({"_id": store_id})
        return row or {"_id": store_id}

    async def states(self) -> dict[str, dict[str, Any]]:
        """Return the state documents of every store, by store id."""
        async with translate_unavailable("reading store states"):
            rows = await self._states.find({}).to_list(None)
        return {row["_id"]: row for row in rows}

    async def _set(self, store_id: str, fields: dict[str, Any]) -> None:
        await self._upsert_state(store_id, {"$set": fields})

    async def _upsert_state(
        self, store_id: str, update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Apply ``update`` to the store's state document, creating it if needed.

        Two upserts of a missing document may race, and the loser fails with
        a duplicate key. The document exists then, so one retry updates it.
        A write refused because the server is busy with other writes is
        tried again after a short pause, up to ``_BUSY_ATTEMPTS`` times.
        """
        async with translate_unavailable(f"writing the state of store {store_id}"):
            duplicates = busy = 0
            while True:
                try:
                    return await self._states.find_one_and_update(
                        {"_id": store_id},
                        update,
                        upsert=True,
                        return_document=ReturnDocument.AFTER,
                    )
                except DuplicateKeyError:
                    duplicates += 1
                    if duplicates == 2:
                        raise
                    logger.info(
                        "state of store %s created concurrently; updating it",
                        store_id,
                    )
                except OperationFailure as error:
                    busy += 1
                    if not is_busy(error) or busy == _BUSY_ATTEMPTS:
                        raise
                    await asyncio.sleep(_BUSY_PAUSE_SECONDS * busy)

    async def _unset(self, store_id: str, paths: list[str]) -> None:
        async with translate_unavailable(f"writing the state of store {store_id}"):
            await self._states.update_one(
                {"_id": store_id}, {"$unset": dict.fromkeys(paths, "")}
            )

    async def mark_catching_up(self, store_id: str, entity: str, since: int) -> None:
        """Record that a store's queue of ``entity`` was unbound at ``since``."""
        await self._set(
            store_id, {f"catching_up.{entity}": {"since": since, "rebound_at": None}}
        )

    async def mark_rebound(
        self, store_id: str, entity: str, since: int, rebound_at: int
    ) -> None:
        """Record that a store's queue of ``entity`` was bound again."""
        await self._set(
            store_id,
            {f"catching_up.{entity}": {"since": since, "rebound_at": rebound_at}},
        )

    async def record_pull(self, store_id: str) -> None:
        """Store the time of a store's pull as ``last_pull_at``, for the monitor."""
        await self._set(store_id, {"last_pull_at": datetime.now(UTC)})

    async def record_pulls(self, store_ids: list[str]) -> None:
        """Store the current time as ``last_pull_at`` of every store in ``store_ids``.

        Uses three requests for any number of stores, because each update on
        FerretDB's SQLite backend reads the whole collection.
        """
        if not store_ids:
            return
        now = datetime.now(UTC)
        async with translate_unavailable("recording pulls"):
            rows = self._states.find({"_id": {"$in": store_ids}}, {"_id": 1})
            existing = {row["_id"] async for row in rows}
            missing = [store_id for store_id in store_ids if store_id not in existing]
            if existing:
                await self._states.update_many(
                    {"_id": {"$in": sorted(existing)}},
                    {"$set": {"last_pull_at": now}},
                )
            for store_id in missing:
                # A state document may appear meanwhile; the upsert covers it.
                await self._set(store_id, {"last_pull_at": now})

    async def request_replay(self, store_id: str, entity: str, revision: int) -> None:
        """Ask a store's agent, at its next heartbeat, to pull after ``revision``."""
        await self._set(store_id, {f"replay_from.{entity}": revision})

    async def record_heartbeat(
        self, store_id: str, heartbeat: HeartbeatRequest
    ) -> HeartbeatAnswer:
        """Store a heartbeat and return what the agent must do next.

        Finished catch-ups and replays that the heartbeat reports are removed.
        """
        now = datetime.now(UTC)
        fields = {**heartbeat.model_dump(exclude={"replayed"}), "at": now}
        row = await self._upsert_state(store_id, {"$set": {"heartbeat": fields}}) or {}

        finished: list[str] = []
        catch_up: list[str] = []
        for entity, mark in sorted(row.get("catching_up", {}).items()):
            rebound_at = mark.get("rebound_at")
            applied = heartbeat.applied.get(entity, 0)
            if rebound_at is not None and applied >= rebound_at:
                finished.append(f"catching_up.{entity}")
                logger.info(
                    "store %s caught up on %s at revision %d; queue fed again",
                    store_id,
                    entity,
                    applied,
                )
            else:
                catch_up.append(entity)

        replay_from: dict[str, int] = {}
        for entity, revision in row.get("replay_from", {}).items():
            if heartbeat.replayed.get(entity) == revision:
                finished.append(f"replay_from.{entity}")
                logger.info(
                    "store %s replayed %s from revision %d", store_id, entity, revision
                )
            else:
                replay_from[entity] = int(revision)
        if finished:
            await self._unset(store_id, finished)

        return HeartbeatAnswer(
            store_id=store_id,
            received_at=now,
            catch_up=catch_up,
            replay_from=replay_from,
        )

    # Digest ----------------------------------------------------------------

    async def digest(self, entity: str, scopes: list[str], revision: int) -> Digest:
        """Return the digest of the live documents in ``scopes`` up to ``revision``.

        NOTE: the repository keeps only the latest version of each document,
        so below the committed revision a document changed later is missing
        instead of counted in its older version. Compare a store's digest
        only at the committed revision.
        """
        query = {"entity": entity, "rev": {"$lte": revision}, "scope": {"$in": scopes}}
        projection = {"_id": 0, "key": 1, "rev": 1, "hash": 1, "deleted": 1}
        newest: dict[str, tuple[int, str, bool]] = {}
        async with translate_unavailable(f"reading documents of {entity}"):
            async for row in self.repository.db.documents.find(query, projection):
                known = newest.get(row["key"])
                # A crashed writer may have left a superseded version behind.
                if known is None or known[0] < row["rev"]:
                    newest[row["key"]] = (row["rev"], row["hash"], row["deleted"])
        live = (
            (key, document_hash)
            for key, (_, document_hash, deleted) in newest.items()
            if not deleted
        )
        return compute_digest(entity, revision, live)
