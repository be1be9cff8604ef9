"""The long-running publisher: publish every entity on an interval or on notify().

Each cycle publishes every committed change above each entity's watermark,
after the backlog check (see hub.runtime.publish). When the broker or the
repository is unreachable, the loop closes its connection and connects again
after a bounded exponential back-off, logging each retry once with its
attempt number. The watermark moves only after the broker confirmed a
publish, so every change committed while the broker was down goes out once
it is back.
"""

import asyncio
import contextlib
import logging

from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError

from contracts import ENTITIES
from hub.errors import RepositoryUnavailableError
from hub.repository import Repository
from hub.runtime import Broker, open_broker, publish
from hub.settings import Settings

__all__ = ["PublisherLoop"]

logger = logging.getLogger(__name__)

_RETRYABLE = (
    *CONNECTION_EXCEPTIONS,
    OSError,
    TimeoutError,
    DeliveryError,
    RepositoryUnavailableError,
)


class PublisherLoop:
    """Publishes every entity each ``settings.publish_interval_seconds``.

    ``notify`` starts the next cycle at once. The wait before reconnect
    attempt n (from 1) is ``base_delay_seconds * 2**(n-1)``, at most
    ``max_delay_seconds``.
    """

    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        entities: list[str] | None = None,
        *,
        base_delay_seconds: float = 0.5,
        max_delay_seconds: float = 30.0,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.entities = entities or sorted(ENTITIES)
        self.base_delay_seconds = base_delay_seconds
        self.max_delay_seconds = max_delay_seconds
        self.cycles = 0
        self.failed_attempts = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def notify(self) -> None:
        """Start the next cycle now instead of after the interval."""
        self._wake.set()

    def request_stop(self) -> None:
        """Make ``run`` return after the current cycle; safe from a signal handler."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until ``request_stop``, reconnecting while servers are down."""
        attempt = 0
        logger.info("publisher loop started for %s", ",".join(self.entities))
        while not self._stop.is_set():
            try:
                async with open_broker(self.settings) as broker:
                    if attempt:
                        logger.info(
                            "publisher reconnected to the broker after %d failed"
                            " attempts",
                            attempt,
                        )
                    attempt = 0
                    await self._publish_cycles(broker)
            except _RETRYABLE as error:
                # Retried without limit while the loop runs: the repository
                # keeps every change, and the next cycle sends it.
                attempt += 1
                self.failed_attempts += 1
                delay = min(
                    self.base_delay_seconds * 2.0 ** (attempt - 1),
                    self.max_delay_seconds,
                )
                logger.warning(
                    "publisher: attempt %d failed (%s: %s); retrying in %.1f s",
                    attempt,
                    type(error).__name__,
                    error,
                    delay,
                )
                await self._wait(delay)
        logger.info("publisher loop stopped after %d cycles", self.cycles)

    async def _publish_cycles(self, broker: Broker) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            for entity in self.entities:
                report = await publish(self.settings, self.repository, broker, entity)
                logger.debug(
                    "publisher cycle %d: %s watermark %d",
                    self.cycles,
                    entity,
                    report.watermark,
                )
            self.cycles += 1
            await self._wait(self.settings.publish_interval_seconds)

    async def _wait(self, seconds: float) -> None:
        # The timeout is the normal way to the next cycle or attempt.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
