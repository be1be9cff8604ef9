"""Recent committed changes in the API process's memory, for the pull routes.

Most pulls ask for the newest revisions, and many stores ask for the same
ones right after a publish. Reading them from the repository once per
request costs a whole-collection read on servers that do not use indexes
(FerretDB's SQLite backend), so the API keeps the last ``max_documents``
committed documents of each entity in memory, encoded once, by scope.

The cache only ever contains committed documents, appended in revision order
as the committed revision moves, so a page from memory is the page the
repository returns, except that versions deleted by ``Repository.compact``
may still be served. A store applies only newer revisions, so a superseded
version changes nothing. A request below the cached range reads the
repository as before.

Concurrent requests share one repository read: the committed revision is
read by one request at a time, and so is each range of new documents.
"""

import asyncio
import bisect
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from contracts import ChangeDocument
from hub.repository import Repository

__all__ = ["CachedChange", "ChangeCache", "encode_change"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_READ_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class CachedChange:
    """One committed document, encoded as it appears in a page."""

    key: str
    rev: int
    body: bytes


@dataclass
class _EntityLog:
    base: int
    """Every committed document with base < rev <= top is cached."""
    top: int
    by_scope: dict[str, list[CachedChange]] = field(default_factory=dict)
    revisions: dict[str, list[int]] = field(default_factory=dict)
    newest: dict[str, int] = field(default_factory=dict)
    """The revision of the newest cached version of each key."""
    size: int = 0

    def append(self, scope: str, change: CachedChange) -> None:
        self.by_scope.setdefault(scope, []).append(change)
        self.revisions.setdefault(scope, []).append(change.rev)
        self.newest[change.key] = max(change.rev, self.newest.get(change.key, 0))
        self.size += 1

    def trim(self, max_documents: int) -> None:
        """Drop the oldest documents until at most ``max_documents`` remain."""
        excess = self.size - max_documents
        if excess <= 0:
            return
        # The new base is the revision of the excess-th oldest document.
        oldest = heapq.nsmallest(excess, itertools.chain(*self.revisions.values()))
        self.base = oldest[-1]
        for scope in list(self.by_scope):
            cut = bisect.bisect_right(self.revisions[scope], self.base)
            del self.by_scope[scope][:cut]
            del self.revisions[scope][:cut]
            self.size -= cut
            if not self.by_scope[scope]:
                del self.by_scope[scope]
                del self.revisions[scope]

    def page(
        self, scopes: Iterable[str], after: int, limit: int, committed: int
    ) -> list[CachedChange]:
        """Return up to ``limit`` cached changes in ``scopes`` above ``after``.

        Only revisions up to ``committed`` count, and a version is left out
        when a newer version of its key up to ``committed`` is cached, as
        the repository leaves it out after compaction.
        """
        runs = []
        for scope in scopes:
            revisions = self.revisions.get(scope)
            if revisions:
                start = bisect.bisect_right(revisions, after)
                runs.append(itertools.islice(self.by_scope[scope], start, None))
        merged = heapq.merge(*runs, key=lambda change: change.rev)
        visible = itertools.takewhile(lambda change: change.rev <= committed, merged)
        newest = self.newest
        current = (
            change
            for change in visible
            if not change.rev < newest.get(change.key, 0) <= committed
        )
        return list(itertools.islice(current, limit))


class _SingleFlight:
    """Runs one call per key at a time; callers that arrive meanwhile share it."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._call_once(key, call))
            self._running[key] = running
        # shield: a caller that is cancelled must not cancel the shared read.
        return cast(T, await asyncio.shield(running))

    async def _call_once(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        finally:
            # Removed before the call's task is done, not in a done callback,
            # so a caller that runs between the two starts a new call instead
            # of taking a finished one. Awaiting a finished task does not
            # yield, so ChangeCache._log would otherwise retry it forever.
            if self._running.get(key) is asyncio.current_task():
                del self._running[key]


class ChangeCache:
    """The last ``max_documents`` committed documents of each entity."""

    def __init__(self, repository: Repository, max_documents: int) -> None:
        self.repository = repository
        self.max_documents = max_documents
        self._logs: dict[str, _EntityLog] = {}
        self._flights = _SingleFlight()

    async def committed_revision(self, entity: str) -> int:
        """Return the committed revision of ``entity``, one read at a time."""
        return await self._flights.run(
            f"committed:{entity}",
            lambda: self.repository.committed_revision(entity),
        )

    async def page(
        self,
        entity: str,
        scopes: list[str],
        after: int,
        limit: int,
        committed: int,
    ) -> list[CachedChange] | None:
        """Return up to ``limit`` changes in ``scopes`` with after < rev <= committed.

        Returns None when ``after`` lies below the cached range; the caller
        then reads the repository.
        """
        if self.max_documents == 0:
            return None
        log = await self._log(entity, committed)
        if after < log.base:
            return None
        return log.page(scopes, after, limit, committed)

    async def _log(self, entity: str, committed: int) -> _EntityLog:
        log = self._logs.get(entity)
        # A fill that another request started may stop below ``committed``,
        # because that request read an older committed revision, so the
        # log is filled again until it reaches this one.
        while log is None or log.top < committed:
            await self._flights.run(
                f"fill:{entity}", lambda: self._fill(entity, committed)
            )
            log = self._logs[entity]
        return log

    async def _fill(self, entity: str, committed: int) -> None:
        log = self._logs.get(entity)
        # Each revision has at most one document and the log keeps at most
        # ``max_documents`` of them, so a longer range would be read into
        # memory only to be trimmed. The log then starts again below it.
        if log is None or committed - log.top > self.max_documents:
            base = max(0, committed - self.max_documents)
            log = _EntityLog(base=base, top=base)
        if log.top >= committed:
            return

        # Nothing is added until the whole range is read, so a failed read
        # leaves the log as it was.
        read: list[tuple[str, CachedChange]] = []
        chunks = self.repository.iter_changes_with_scope(
            entity, log.top, _READ_CHUNK, up_to=committed
        )
        async with contextlib.aclosing(chunks):
            async for rows in chunks:
                for row in rows:
                    document = row.document
                    change = CachedChange(document.key, document.rev, row.encode())
                    read.append((row.scope, change))

        for scope, change in read:
            log.append(scope, change)
        log.top = committed
        log.trim(self.max_documents)
        self._logs[entity] = log
        logger.debug(
            "change cache of %s: read %d documents, now caches revisions %d-%d",
            entity,
            len(read),
            log.base + 1,
            log.top,
        )


def encode_change(document: ChangeDocument) -> CachedChange:
    """Return ``document`` encoded as JSON, as a page lists it."""
    body = document.model_dump_json().encode()
    return CachedChange(document.key, document.rev, body)
