"""Run connectors on request and on a schedule, one run per entity at a time.

A request for an entity whose run is under way is coalesced: however many
requests arrive during the run, exactly one follow-up run starts after it.
The lease in ``run_connector`` keeps runs of one entity apart across
processes; the coordinator keeps them apart within one.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

__all__ = ["RunCoordinator", "RunRequestOutcome", "run_schedule"]

logger = logging.getLogger(__name__)

RunRequestOutcome = Literal["started", "coalesced"]
RunFunction = Callable[[str], Awaitable[object]]


class RunCoordinator:
    """Starts runs of entities as asyncio tasks and coalesces repeated requests."""

    def __init__(self, run: RunFunction) -> None:
        self._run = run
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._follow_up: set[str] = set()
        self.runs_started = 0

    def request(self, entity: str) -> RunRequestOutcome:
        """Start a run of ``entity`` now, or one follow-up run after the current one."""
        task = self._tasks.get(entity)
        if task is not None and not task.done():
            self._follow_up.add(entity)
            logger.info(
                "run of %s requested during a run: one follow-up queued", entity
            )
            return "coalesced"
        self._tasks[entity] = asyncio.create_task(
            self._run_until_no_follow_up(entity), name=f"connector-{entity}"
        )
        return "started"

    def running(self, entity: str) -> bool:
        """Return whether a run of ``entity`` is under way or queued."""
        task = self._tasks.get(entity)
        return task is not None and not task.done()

    async def wait_idle(self, timeout_seconds: float | None = None) -> None:
        """Wait until no run is under way or queued.

        Raises TimeoutError when runs are still going after ``timeout_seconds``.
        """
        async with asyncio.timeout(timeout_seconds):
            while pending := [task for task in self._tasks.values() if not task.done()]:
                await asyncio.wait(pending)

    async def close(self) -> None:
        """Cancel every run under way and wait for them to end."""
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_until_no_follow_up(self, entity: str) -> None:
        # Each pass consumes the follow-up flag before running, so a request
        # that arrives during the pass queues exactly one more pass.
        while True:
            self._follow_up.discard(entity)
            self.runs_started += 1
            try:
                await self._run(entity)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The run function logs and records its own failures; this
                # line keeps a failure from ending the coordinator.
                logger.warning(
                    "run of %s ended with %s: %s", entity, type(exc).__name__, exc
                )
            if entity not in self._follow_up:
                return


async def run_schedule(
    coordinator: RunCoordinator,
    intervals: Mapping[str, float],
    stop: asyncio.Event,
    *,
    duration_seconds: float | None = None,
) -> int:
    """Request each entity's run every ``intervals[entity]`` seconds until ``stop``.

    The first run of every entity is requested at once. Stops when ``stop``
    is set or after ``duration_seconds``, then waits for runs under way.
    Returns the number of runs requested.
    """
    started = time.monotonic()
    due = dict.fromkeys(intervals, started)
    requested = 0
    logger.info(
        "schedule started: %s",
        ", ".join(f"{entity} every {every:g}s" for entity, every in intervals.items()),
    )
    while not stop.is_set():
        now = time.monotonic()
        if duration_seconds is not None and now - started >= duration_seconds:
            break
        for entity, at in due.items():
            if at <= now:
                coordinator.request(entity)
                requested += 1
                due[entity] = now + intervals[entity]
        wake = min(due.values()) - time.monotonic()
        if duration_seconds is not None:
            wake = min(wake, started + duration_seconds - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(wake, 0.01))
    await coordinator.wait_idle()
    logger.info(
        "schedule stopped after %.1fs: %d runs requested",
        time.monotonic() - started,
        requested,
    )
    return requested
