"""Heartbeats: the agent reports its applied revisions and gets tasks back.

``POST {hub}/v1/stores/{store}/heartbeat`` carries the agent's version and
mode, and per entity its applied revision and the digest of its copy at that
revision. The answer lists entities to catch up on (the hub stopped feeding
the store's queue, so the agent pulls from its applied revision) and
replays an operator asked for (the agent pulls again from a given
revision). A heartbeat that fails is logged and the next one
goes out at the next interval.
"""

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import Awaitable, Callable

import httpx
from pydantic import ValidationError

from contracts.delivery import HeartbeatAnswer, HeartbeatRequest
from store_agent.local_store import LocalStore

__all__ = ["AGENT_VERSION", "HeartbeatLoop", "PullFunction"]

logger = logging.getLogger(__name__)


def _agent_version() -> str:
    try:
        return importlib.metadata.version("retail-hub")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


AGENT_VERSION = _agent_version()

PullFunction = Callable[[str, int | None], Awaitable[bool]]
"""Pull one entity after a revision (None: the applied one); True on success."""


class HeartbeatLoop:
    """Sends heartbeats every ``interval_seconds`` and carries out the answers.

    ``pull`` is the agent's pull of one entity; it logs its own failures.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        store_id: str,
        mode: str,
        entities: list[str],
        local_store: LocalStore,
        pull: PullFunction,
        interval_seconds: float,
    ) -> None:
        self._client = client
        self.store_id = store_id
        self._mode = mode
        self._entities = entities
        self._local_store = local_store
        self._pull = pull
        self._interval_seconds = interval_seconds
        self._replayed: dict[str, int] = {}
        self.sent = 0
        self.failed = 0

    async def send_once(self) -> HeartbeatAnswer | None:
        """Send one heartbeat and return the answer, or None after logging a failure."""
        applied = {
            entity: await asyncio.to_thread(self._local_store.applied_revision, entity)
            for entity in self._entities
        }
        # The hub compares these with its own digests (`retail-hub verify`).
        digests = {
            entity: await asyncio.to_thread(self._local_store.digest, entity, revision)
            for entity, revision in applied.items()
        }
        request = HeartbeatRequest(
            agent_version=AGENT_VERSION,
            mode="pull" if self._mode == "pull" else "amqp",
            applied=applied,
            replayed=dict(self._replayed),
            digests=digests,
        )
        path = f"/v1/stores/{self.store_id}/heartbeat"
        try:
            response = await self._client.post(
                path,
                content=request.model_dump_json().encode(),
                headers={"Content-Type": "application/json"},
            )
            response.raise_for_status()
            answer = HeartbeatAnswer.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as error:
            # The next heartbeat goes out at the next interval; nothing is
            # lost meanwhile because the hub keeps its requests until done.
            self.failed += 1
            logger.warning(
                "store %s: heartbeat failed (%s: %s); retrying in %.0f s",
                self.store_id,
                type(error).__name__,
                error,
                self._interval_seconds,
            )
            return None
        self.sent += 1
        for entity, revision in request.replayed.items():
            if self._replayed.get(entity) == revision:
                del self._replayed[entity]
        return answer

    async def carry_out(self, answer: HeartbeatAnswer) -> bool:
        """Pull what the answer asks for; return True if anything was pulled."""
        pulled = False
        for entity in answer.catch_up:
            if entity not in self._entities:
                continue
            logger.info("store %s: hub asks to catch up on %s", self.store_id, entity)
            pulled = await self._pull(entity, None) or pulled
        for entity, revision in answer.replay_from.items():
            if entity not in self._entities:
                continue
            logger.info(
                "store %s: hub asks to replay %s from revision %d",
                self.store_id,
                entity,
                revision,
            )
            if await self._pull(entity, revision):
                self._replayed[entity] = revision
                pulled = True
        return pulled

    async def run(self, stop: asyncio.Event) -> None:
        """Send heartbeats until ``stop`` is set, the first one at once.

        After pulling what an answer asked for, the agent reports at once, so
        the hub learns its new applied revisions without waiting an interval.
        """
        while not stop.is_set():
            answer = await self.send_once()
            if answer is not None and await self.carry_out(answer):
                await self.send_once()
            # The timeout is the normal way to the next heartbeat.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval_seconds)
