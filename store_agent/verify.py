"""The agent's scheduled self-check: compare the local copy with the hub's.

The agent compares the digest of its copy at its applied revision with the
hub's (``GET /v1/stores/{id}/digest/{entity}``). When they differ, it
descends the hub's bucket tree (``GET /v1/stores/{id}/buckets/{entity}``,
see ``contracts.buckets``) to the keys that differ, fetches their current
versions (``POST /v1/stores/{id}/buckets/{entity}/documents``) and
overwrites exactly those rows with ``LocalStore.repair``. A copy that is
behind the hub's committed revision is not compared: the next pull brings
it up to date, and the next check compares it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import ValidationError

from contracts.buckets import (
    MAX_DOCUMENT_KEYS,
    BucketsAnswer,
    DocumentsAnswer,
    narrow_down,
)
from contracts.delivery import Digest
from store_agent.local_store import LocalStore

__all__ = ["CheckResult", "SelfCheckLoop", "check_entity"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one self-check of one entity.

    ``status`` is ``match``, ``repaired``, ``differs`` (a repair did not make
    the digests equal) or ``behind`` (not compared). ``hashes`` counts the
    hashes the hub sent: its digest, bucket digests and key hashes.
    """

    entity: str
    revision: int
    status: Literal["match", "repaired", "differs", "behind"]
    differing: int
    hashes: int
    requests: int


async def _get_json(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> bytes:
    response = await client.get(path, params=params)
    response.raise_for_status()
    return response.content


async def check_entity(
    client: httpx.AsyncClient, store_id: str, local_store: LocalStore, entity: str
) -> CheckResult:
    """Compare the local copy of ``entity`` with the hub's and repair differences.

    Raises httpx.HTTPError when a request fails, pydantic.ValidationError
    when an answer breaks the contract and sqlite3.Error when the repair
    cannot be committed.
    """
    revision = await asyncio.to_thread(local_store.applied_revision, entity)
    base = f"/v1/stores/{store_id}"
    hub_digest = Digest.model_validate_json(
        await _get_json(client, f"{base}/digest/{entity}", {})
    )
    if hub_digest.revision != revision:
        return CheckResult(entity, revision, "behind", 0, 1, 1)
    local = await asyncio.to_thread(local_store.live_hashes, entity, revision)
    mine = await asyncio.to_thread(local_store.digest, entity, revision)
    if (mine.count, mine.sha256) == (hub_digest.count, hub_digest.sha256):
        return CheckResult(entity, revision, "match", 0, 1, 1)

    async def fetch(prefix: str) -> BucketsAnswer:
        params = {"revision": str(revision), "prefix": prefix}
        content = await _get_json(client, f"{base}/buckets/{entity}", params)
        return BucketsAnswer.model_validate_json(content)

    narrowing = await narrow_down(local, fetch, entity, revision)
    keys = narrowing.missing + narrowing.extra + narrowing.different
    logger.warning(
        "store %s: %s differs from the hub at revision %d: %d missing, %d extra,"
        " %d different; repairing",
        store_id,
        entity,
        revision,
        len(narrowing.missing),
        len(narrowing.extra),
        len(narrowing.different),
    )
    documents = []
    for start in range(0, len(keys), MAX_DOCUMENT_KEYS):
        response = await client.post(
            f"{base}/buckets/{entity}/documents",
            json={"keys": keys[start : start + MAX_DOCUMENT_KEYS]},
        )
        response.raise_for_status()
        documents += DocumentsAnswer.model_validate_json(response.content).documents
    sent = {document.key for document in documents}
    removed = [key for key in narrowing.extra if key not in sent]
    await asyncio.to_thread(local_store.repair, entity, documents, removed)

    after = await asyncio.to_thread(local_store.digest, entity, revision)
    repaired = (after.count, after.sha256) == (hub_digest.count, hub_digest.sha256)
    status: Literal["repaired", "differs"] = "repaired" if repaired else "differs"
    if not repaired:
        # The hub may have committed new changes meanwhile; the next check
        # compares again.
        logger.warning(
            "store %s: %s still differs from the hub after the repair",
            store_id,
            entity,
        )
    return CheckResult(
        entity,
        revision,
        status,
        narrowing.differing,
        1 + narrowing.hashes,
        1
        + narrowing.requests
        + (len(keys) + MAX_DOCUMENT_KEYS - 1) // MAX_DOCUMENT_KEYS,
    )


Guard = Callable[[], contextlib.AbstractAsyncContextManager[object]]


class SelfCheckLoop:
    """Checks every entity every ``interval_seconds``, first after one interval.

    ``guard`` returns a context manager held during each check, so no pull
    applies while the copy is compared.

    NOTE: AMQP messages are applied without the guard. One that lands during
    a check can make it report ``differs``, and the next check compares again.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        store_id: str,
        entities: list[str],
        local_store: LocalStore,
        interval_seconds: float,
        guard: Guard,
    ) -> None:
        self._client = client
        self.store_id = store_id
        self._entities = entities
        self._local_store = local_store
        self._interval_seconds = interval_seconds
        self._guard = guard
        self.results: list[CheckResult] = []

    async def check_once(self) -> list[CheckResult]:
        """Check every entity once; log and skip those whose check fails."""
        results = []
        for entity in self._entities:
            try:
                async with self._guard():
                    result = await check_entity(
                        self._client, self.store_id, self._local_store, entity
                    )
            except (httpx.HTTPError, ValidationError, RuntimeError) as error:
                logger.warning(
                    "store %s: self-check of %s failed (%s: %s); retrying in %.0f s",
                    self.store_id,
                    entity,
                    type(error).__name__,
                    error,
                    self._interval_seconds,
                )
                continue
            logger.info(
                "store %s: self-check of %s at revision %d: %s, %d differing,"
                " %d hashes",
                self.store_id,
                entity,
                result.revision,
                result.status,
                result.differing,
                result.hashes,
            )
            results.append(result)
        self.results = results
        return results

    async def run(self, stop: asyncio.Event) -> None:
        """Check on every interval until ``stop`` is set."""
        while not stop.is_set():
            # The timeout is the normal way to the next check.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval_seconds)
            if not stop.is_set():
                await self.check_once()
