"""The time of each store's last pull, written in the background.

The monitor needs a store's last pull to the minute, not each pull. A
thousand stores polling at once must not send a thousand writes at once,
because FerretDB's SQLite backend rejects concurrent writes to one
collection with "database is locked". So a pull only notes its store here,
and one task writes the noted stores in batches, one batch at a time, each
store at most once per ``interval_seconds``. A failed write is logged and
retried with the next pull of that store, and the pull itself never fails
because of it.
"""

import asyncio
import contextlib
import logging
import time

from hub.delivery import DeliveryState
from hub.repository import Repository

__all__ = ["PULL_RECORD_SECONDS", "PullRecorder"]

logger = logging.getLogger(__name__)

# The monitor needs a store's last pull to the minute, so each process
# records it at most this often per store.
PULL_RECORD_SECONDS = 60.0

# Stores written per request batch.
_BATCH = 500


class PullRecorder:
    """Notes pulls and writes each store's ``last_pull_at`` in the background."""

    def __init__(self, repository: Repository, interval_seconds: float) -> None:
        self.repository = repository
        self.interval_seconds = interval_seconds
        self.failures = 0
        self._recorded_at: dict[str, float] = {}
        self._pending: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def note(self, store_id: str) -> None:
        """Record a pull of ``store_id``, unless one was written recently."""
        recorded = self._recorded_at.get(store_id)
        now = time.monotonic()
        if recorded is not None and now - recorded < self.interval_seconds:
            return
        self._recorded_at[store_id] = now
        self._pending[store_id] = None
        self._wake.set()

    def start(self) -> None:
        """Start the writing task in the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pull-recorder")

    async def stop(self, timeout_seconds: float = 5.0) -> None:
        """Stop the task, then write what is noted for up to ``timeout_seconds``."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        try:
            await asyncio.wait_for(self._write_pending(), timeout_seconds)
        except TimeoutError:
            logger.warning(
                "stopped with the pulls of %d stores not recorded", len(self._pending)
            )

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_pending()

    async def _write_pending(self) -> None:
        delivery = DeliveryState(self.repository)
        while self._pending:
            store_ids = list(self._pending)[:_BATCH]
            for store_id in store_ids:
                del self._pending[store_id]
            try:
                await delivery.record_pulls(store_ids)
            except Exception as exc:
                # The next pull of these stores tries again.
                for store_id in store_ids:
                    self._recorded_at.pop(store_id, None)
                self.failures += 1
                if self.failures == 1 or self.failures % 100 == 0:
                    logger.warning(
                        "could not record the pulls of %d stores (%d failures so"
                        " far): %s: %s",
                        len(store_ids),
                        self.failures,
                        type(exc).__name__,
                        exc,
                    )
