"""Writes of the monitor's collections (see ``monitor.model``), and their pruning.

FerretDB has no TTL indexes, so old history, events and REMOVED stores are
deleted by a query, at most once per ``_PRUNE_EVERY``.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import BulkWriteError

from hub.repository import Repository, translate_unavailable
from monitor.model import (
    EVENTS,
    HEALTH,
    HEALTH_ID,
    HISTORY,
    STATUS,
    HistoryPoint,
    MonitorEvent,
    MonitorHealth,
    StoreStatus,
)

__all__ = ["MonitorStore"]

logger = logging.getLogger(__name__)

_PRUNE_EVERY = timedelta(hours=1)
# Statuses written per command. On FerretDB 1.24's SQLite backend an update
# command of 150 upserts never finished and held all 100 of the server's
# SQLite connections, so every other client stalled too (a command of 99
# finished).
_WRITE_CHUNK = 50
_DUPLICATE_KEY = 11000


class MonitorStore:
    """The monitor's collections in the repository."""

    def __init__(self, repository: Repository, history_days: float) -> None:
        self.db = repository.db
        self.retention = timedelta(days=history_days)
        self._pruned_at: datetime | None = None

    async def load_statuses(self) -> dict[str, StoreStatus]:
        """Return the statuses the last run of the monitor wrote, by store id."""
        statuses: dict[str, StoreStatus] = {}
        async with translate_unavailable("reading monitor_status"):
            rows = await self.db[STATUS].find({}).to_list(None)
        for row in rows:
            status = StoreStatus.model_validate(row)
            statuses[status.store_id] = status
        return statuses

    async def write_check(
        self,
        statuses: dict[str, StoreStatus],
        history: list[HistoryPoint],
        events: list[MonitorEvent],
        health: MonitorHealth,
    ) -> None:
        """Write one check: every store's status, history points, events, health.

        Statuses are written as a delete and an insert per chunk of stores
        instead of one replace per store. FerretDB's SQLite backend reads the
        whole collection for every update or delete, and inserts without
        reading, so a check costs one read of monitor_status per chunk
        instead of one per store. A reader between the two commands misses
        the chunk's stores for that moment, and a monitor that stops there
        writes them again at its next check.
        """
        documents = [status.model_dump(by_alias=True) for status in statuses.values()]
        async with translate_unavailable("writing the monitor's check"):
            for start in range(0, len(documents), _WRITE_CHUNK):
                chunk = documents[start : start + _WRITE_CHUNK]
                ids = [document["_id"] for document in chunk]
                await self.db[STATUS].delete_many({"_id": {"$in": ids}})
                await self._insert_statuses(chunk)
            if history:
                await self.db[HISTORY].insert_many(
                    [point.model_dump() for point in history], ordered=False
                )
            if events:
                await self.db[EVENTS].insert_many(
                    [event.model_dump() for event in events], ordered=False
                )
            await self.write_health(health)

    async def _insert_statuses(self, chunk: list[dict[str, Any]]) -> None:
        """Insert ``chunk``; replace the statuses another monitor inserted meanwhile."""
        try:
            await self.db[STATUS].insert_many(chunk, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(item.get("code") != _DUPLICATE_KEY for item in errors):
                raise
            for item in errors:
                document = chunk[item["index"]]
                await self.db[STATUS].replace_one(
                    {"_id": document["_id"]}, document, upsert=True
                )

    async def write_health(self, health: MonitorHealth) -> None:
        """Replace the monitor_health document."""
        async with translate_unavailable("writing monitor_health"):
            await self.db[HEALTH].replace_one(
                {"_id": HEALTH_ID}, health.model_dump(by_alias=True), upsert=True
            )

    async def prune(self, now: datetime) -> list[str]:
        """Delete history, events and REMOVED stores older than the retention.

        Runs at most once per hour and returns the ids of the removed stores
        whose status was deleted.
        """
        if self._pruned_at is not None and now - self._pruned_at < _PRUNE_EVERY:
            return []
        cutoff = now - self.retention
        async with translate_unavailable("pruning the monitor's history"):
            history = await self.db[HISTORY].delete_many({"at": {"$lt": cutoff}})
            events = await self.db[EVENTS].delete_many({"at": {"$lt": cutoff}})
            old = {"status": "REMOVED", "since": {"$lt": cutoff}}
            gone = [row["_id"] for row in await self.db[STATUS].find(old).to_list(None)]
            if gone:
                await self.db[STATUS].delete_many({"_id": {"$in": gone}})
        self._pruned_at = now
        deleted = history.deleted_count + events.deleted_count + len(gone)
        logger.log(
            logging.INFO if deleted else logging.DEBUG,
            "pruned %d history points, %d events and %d removed stores before %s",
            history.deleted_count,
            events.deleted_count,
            len(gone),
            cutoff.isoformat(),
        )
        return gone
