"""Leases in MongoDB: one holder of a named job at a time, across processes.

A lease expires unless its holder renews it, so a holder that dies frees the
job after at most ``ttl_seconds``. It relies only on single-document atomic
updates and the unique ``_id``, which MongoDB and FerretDB both provide.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from hub.repository import translate_unavailable

__all__ = ["Lease", "LeaseLostError", "LeaseUnavailableError", "default_holder"]

logger = logging.getLogger(__name__)


class LeaseUnavailableError(Exception):
    """Raised when another holder has the lease."""

    def __init__(
        self, name: str, holder: str | None, expires_at: datetime | None
    ) -> None:
        super().__init__(name, holder, expires_at)
        self.name = name
        self.holder = holder
        self.expires_at = expires_at

    def __str__(self) -> str:
        return (
            f"lease {self.name!r} is held by {self.holder} until {self.expires_at};"
            " another process is running this job"
        )


class LeaseLostError(Exception):
    """Raised when a holder finds that its lease was taken over after expiring."""


def default_holder() -> str:
    """Return an id for this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """An async context manager that holds a named lease while its block runs.

    Entering raises LeaseUnavailableError when someone else holds it. While
    held, a background task renews it every third of ``ttl_seconds``.
    """

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        name: str,
        *,
        holder: str | None = None,
        ttl_seconds: float = 60.0,
    ) -> None:
        self._leases = db.leases
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = timedelta(seconds=ttl_seconds)
        self._renewer: asyncio.Task[None] | None = None
        self.lost = False

    async def acquire(self) -> None:
        """Take the lease, or raise LeaseUnavailableError."""
        now = datetime.now(UTC)
        free_or_mine = {
            "_id": self.name,
            "$or": [{"expires_at": {"$lt": now}}, {"holder": self.holder}],
        }
        update = {"$set": {"holder": self.holder, "expires_at": now + self.ttl}}
        try:
            async with translate_unavailable(f"taking lease {self.name}"):
                await self._leases.update_one(free_or_mine, update, upsert=True)
        except DuplicateKeyError:
            # The lease document exists and matched neither condition: it is
            # held by someone else and has not expired.
            async with translate_unavailable(f"reading lease {self.name}"):
                current = await self._leases.find_one({"_id": self.name}) or {}
            raise LeaseUnavailableError(
                self.name, current.get("holder"), current.get("expires_at")
            ) from None
        logger.debug("lease %s taken by %s", self.name, self.holder)

    async def release(self) -> None:
        """Give the lease up, if this holder still has it."""
        async with translate_unavailable(f"releasing lease {self.name}"):
            await self._leases.delete_one({"_id": self.name, "holder": self.holder})

    async def _renew_forever(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.acquire()
            except LeaseUnavailableError as exc:
                # Another holder took the lease after it expired, so this
                # holder must stop before it writes; ``check`` raises from now.
                self.lost = True
                logger.error("lost lease %s: %s", self.name, exc)
                return
            except Exception as exc:
                # Renewal goes on until the block ends; a lease lost here is
                # taken over by another holder only after it expires.
                logger.warning(
                    "could not renew lease %s for %s: %s: %s",
                    self.name,
                    self.holder,
                    type(exc).__name__,
                    exc,
                )

    def check(self) -> None:
        """Raise LeaseLostError if another holder has taken the lease over."""
        if self.lost:
            raise LeaseLostError(
                f"lease {self.name!r} of {self.holder} expired and was taken over;"
                " stopping before writing"
            )

    async def __aenter__(self) -> Self:
        await self.acquire()
        self._renewer = asyncio.create_task(self._renew_forever())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        with contextlib.suppress(Exception):
            # A lease that cannot be released expires by itself.
            await self.release()
