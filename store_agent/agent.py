"""The store agent: keeps a store's local copy in step with the hub.

In amqp mode the agent first pulls what it missed from the hub's HTTP API
(the catch-up, skipped when hub_url is None), then consumes the store's
queues; after a lost broker connection comes back it pulls again. In pull
mode it pulls every ``pull_interval_seconds``. In both modes, with a hub_url,
it sends a heartbeat every ``heartbeat_interval_seconds`` and pulls when the
answer asks for a catch-up or a replay, and with ``verify_interval_seconds``
it compares its copy with the hub's and repairs what differs.

Use it in a running event loop::

    agent = StoreAgent(AgentSettings(store_id="0042"))
    await agent.start()
    count = agent.local_store.count("items")
    await agent.stop()

or ``async with StoreAgent(settings) as agent: ...``, or ``await agent.run()``,
which returns after ``request_stop()`` or when its task is cancelled.
"""

import asyncio
import contextlib
import logging
import sqlite3
from types import TracebackType
from typing import Self

import httpx

from store_agent.amqp_consumer import AmqpConsumer
from store_agent.heartbeat import HeartbeatLoop
from store_agent.local_store import LocalStore
from store_agent.puller import HubError, Puller, PullResult, RetryPolicy
from store_agent.settings import AgentSettings
from store_agent.verify import SelfCheckLoop

__all__ = ["StoreAgent"]

logger = logging.getLogger(__name__)


class StoreAgent:
    """One store's agent: its local store, and a consumer or a pull loop.

    ``retry`` sets the pull client's retries after a 503 or a transport error.
    """

    def __init__(
        self, settings: AgentSettings, retry: RetryPolicy | None = None
    ) -> None:
        self.settings = settings
        self._retry = retry
        self._local_store: LocalStore | None = None
        self._puller: Puller | None = None
        self._consumer: AmqpConsumer | None = None
        self._pull_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.heartbeats: HeartbeatLoop | None = None
        self.self_checks: SelfCheckLoop | None = None
        self._self_check_task: asyncio.Task[None] | None = None
        self._reconnect_pulls: set[asyncio.Task[object]] = set()
        # Pulls of the pull loop, heartbeat answers and reconnects take turns.
        self._pull_lock = asyncio.Lock()
        self._stop_requested = asyncio.Event()
        # run() calls stop() when a caller's stop() wakes it, so two stops
        # may overlap; the lock makes the second wait and find nothing open.
        self._stop_lock = asyncio.Lock()

    @property
    def local_store(self) -> LocalStore:
        """The local copy; raises RuntimeError unless the agent is started."""
        if self._local_store is None:
            raise RuntimeError(
                f"store agent {self.settings.store_id} is not started: call start()"
            )
        return self._local_store

    async def start(self) -> None:
        """Open the local store and start receiving, then return.

        In amqp mode this returns once every queue is consumed, after the
        catch-up pull. A failed catch-up is logged and does not stop the
        start. Raises sqlite3.Error if the database cannot be opened, and
        aio_pika's errors if RabbitMQ or a queue is missing. After an error
        nothing stays open.
        """
        settings = self.settings
        if self._local_store is not None:
            raise RuntimeError(f"store agent {settings.store_id} is already started")

        logger.info(
            "store agent %s starting: mode %s, database %s, entities %s",
            settings.store_id,
            settings.mode,
            settings.database_path,
            ",".join(settings.entities),
        )
        self._stop_requested.clear()
        self._local_store = await asyncio.to_thread(LocalStore, settings.database_path)

        try:
            if settings.hub_url is not None:
                self._puller = Puller(
                    settings.hub_url,
                    settings.store_id,
                    self._local_store,
                    page_size=settings.page_size,
                    timeout_seconds=settings.http_timeout_seconds,
                    retry=self._retry,
                    token=(
                        settings.token.get_secret_value()
                        if settings.token is not None
                        else None
                    ),
                )
            if settings.mode == "amqp":
                await self._start_consuming()
            else:
                self._pull_task = asyncio.create_task(self._pull_loop())
            if self._puller is not None:
                self._start_heartbeats(self._puller)
        except BaseException:
            await self.stop()
            raise

        logger.info("store agent %s started", settings.store_id)

    async def _start_consuming(self) -> None:
        settings = self.settings
        if self._puller is not None:
            await self.pull_once()

        self._consumer = AmqpConsumer(
            settings.amqp_url,
            settings.store_id,
            settings.entities,
            self.local_store,
            prefetch=settings.prefetch,
            requeue_delay_seconds=settings.requeue_delay_seconds,
            on_reconnect=self._pull_after_reconnect,
            on_reject=self._after_reject,
        )
        await self._consumer.start()

    def _start_heartbeats(self, puller: Puller) -> None:
        settings = self.settings
        self.heartbeats = HeartbeatLoop(
            puller.http_client,
            settings.store_id,
            settings.mode,
            settings.entities,
            self.local_store,
            self._pull_entity,
            settings.heartbeat_interval_seconds,
        )
        self._heartbeat_task = asyncio.create_task(
            self.heartbeats.run(self._stop_requested)
        )
        if settings.verify_interval_seconds is not None:
            self.self_checks = SelfCheckLoop(
                puller.http_client,
                settings.store_id,
                settings.entities,
                self.local_store,
                settings.verify_interval_seconds,
                lambda: self._pull_lock,
            )
            self._self_check_task = asyncio.create_task(
                self.self_checks.run(self._stop_requested)
            )

    async def _after_reject(self, entity: str, message_id: str, reason: str) -> None:
        """Report a rejected message to the hub and pull what it carried."""
        if self._puller is None:
            return
        try:
            response = await self._puller.http_client.post(
                f"/v1/stores/{self.settings.store_id}/rejections",
                json={"entity": entity, "message_id": message_id, "reason": reason},
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            # The reason stays in the agent's log; the message itself is in
            # the store's dead-letter queue either way.
            logger.warning(
                "store %s: could not report rejected message %s to the hub: %s",
                self.settings.store_id,
                message_id,
                error,
            )
        await self._pull_one(entity, None)

    def _pull_after_reconnect(self) -> None:
        if self._puller is None or self._stop_requested.is_set():
            return
        logger.info(
            "store %s: broker connection restored; pulling what the queues may"
            " have missed",
            self.settings.store_id,
        )
        # Consuming resumes meanwhile; both paths apply by revision, so the
        # order does not change the result.
        task = asyncio.create_task(self.pull_once())
        self._reconnect_pulls.add(task)
        task.add_done_callback(self._reconnect_pulls.discard)

    async def stop(self) -> None:
        """Stop receiving and close everything; safe to call more than once.

        A batch being applied is committed and acknowledged first.
        """
        self._stop_requested.set()
        async with self._stop_lock:
            await self._close_all()

    async def _close_all(self) -> None:
        background = [*self._reconnect_pulls]
        if self._heartbeat_task is not None:
            background.append(self._heartbeat_task)
            self._heartbeat_task = None
        if self._self_check_task is not None:
            background.append(self._self_check_task)
            self._self_check_task = None
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if self._pull_task is not None:
            self._pull_task.cancel()
            await asyncio.gather(self._pull_task, return_exceptions=True)
            self._pull_task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._puller is not None:
            await self._puller.aclose()
            self._puller = None
        if self._local_store is not None:
            await asyncio.to_thread(self._local_store.close)
            self._local_store = None
            logger.info("store agent %s stopped", self.settings.store_id)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def request_stop(self) -> None:
        """Make ``run`` return; safe to call from a signal handler."""
        self._stop_requested.set()

    async def run(self) -> None:
        """Start, run until ``request_stop`` or cancellation, then stop."""
        await self.start()
        try:
            await self._stop_requested.wait()
        finally:
            await self.stop()

    async def pull_once(self) -> list[PullResult]:
        """Pull every entity once and return the results of those that succeeded.

        A failed entity is logged with the hub's status and message and
        skipped, so one entity cannot hold back the others. Raises
        RuntimeError when the agent has no hub_url or is not started.
        """
        if self._puller is None:
            raise RuntimeError(
                f"store agent {self.settings.store_id} cannot pull: it is not"
                " started or has no hub_url"
            )

        results = []
        for entity in self.settings.entities:
            result = await self._pull_one(entity, None)
            if result is not None:
                results.append(result)
        return results

    async def _pull_entity(self, entity: str, after: int | None) -> bool:
        return await self._pull_one(entity, after) is not None

    async def _pull_one(self, entity: str, after: int | None) -> PullResult | None:
        if self._puller is None:
            return None
        async with self._pull_lock:
            try:
                return await self._puller.pull_once(entity, after)
            except HubError as error:
                # Logged and skipped: the next pull starts again from the
                # applied revision, which kept every page committed so far.
                logger.error(
                    "store %s: pull of %s failed (status %s): %s; will retry at"
                    " the next pull",
                    self.settings.store_id,
                    entity,
                    error.status,
                    error,
                )
            except sqlite3.Error as error:
                # Nothing of the failed page was committed; the next pull
                # requests it again.
                logger.error(
                    "store %s: commit of pulled %s failed (%s: %s); will retry at"
                    " the next pull",
                    self.settings.store_id,
                    entity,
                    type(error).__name__,
                    error,
                )
        return None

    async def _pull_loop(self) -> None:
        interval = self.settings.pull_interval_seconds
        while not self._stop_requested.is_set():
            try:
                await self.pull_once()
            except Exception:
                # Keeps pull mode alive after a bug in one pull; the next
                # pull starts again from the applied revision.
                logger.exception(
                    "store %s: unexpected error in pull; will retry in %.0f s",
                    self.settings.store_id,
                    interval,
                )
            # The timeout is the normal way to the next pull.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), timeout=interval)
