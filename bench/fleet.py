"""Many simulated stores in one process, each a real store agent.

Every store is registered through the hub's own registration
(``StoreRegistry.register``: queues, broker user, API token) and runs a
``store_agent.StoreAgent`` with its own SQLite copy (``LocalStore``), its own
broker connection and user (``AmqpConsumer``) or its own HTTP client and
token (``Puller``), and heartbeats. A store can be taken offline (its agent
stops, its queues keep filling) and brought back (a new agent on the same
SQLite file pulls what it missed, then consumes again).

``Fleet.remove_all`` removes every store it registered with
``hub.store_admin.remove_store``: its broker user, queues and documents.
"""

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from aio_pika.exceptions import AMQPError

from contracts import ENTITIES, SCOPE_ALL, group_scope, queue_name
from hub.broker import dead_letter_queue_name
from hub.credentials import BrokerAdmin, StoreSecrets, amqp_url_with_user
from hub.errors import HubError, RepositoryUnavailableError, StoreNotFoundError
from hub.repository import Repository
from hub.runtime import open_broker
from hub.settings import Settings
from hub.store_admin import remove_store
from hub.stores import StoreRecord, StoreRegistry
from store_agent.agent import StoreAgent
from store_agent.local_store import LocalStore
from store_agent.puller import PullResult
from store_agent.settings import AgentSettings

__all__ = [
    "Fleet",
    "FleetOptions",
    "SimulatedStore",
    "fleet_records",
    "fleet_revision",
]

logger = logging.getLogger("bench.fleet")

_T = TypeVar("_T")
_REMOVE_TIMEOUT_SECONDS = 60.0

# The group that the shipped connectors file maps the retail price type
# (code 000000001) to. Every store is in it, so every change of a retail
# price reaches every store. The other two retail price types go to groups
# no simulated store is in, which keeps each store's copy smaller.
PRICE_GROUP = "retail"


def fleet_records(
    prefix: str, count: int, pull_share: float, seed: int = 1
) -> list[StoreRecord]:
    """Return ``count`` stores with ids ``<prefix><warehouse code>``.

    The ERP simulator's warehouse N+1 is retail store N, with code
    ``f"{N + 1:09d}"``, so each store gets the stock of its warehouse. The
    stores that pull are drawn with ``seed``; the rest consume AMQP.
    """
    rng = random.Random(seed)
    pulling = set(rng.sample(range(count), round(count * pull_share)))
    return [
        StoreRecord(
            store_id=f"{prefix}{number + 2:09d}",
            name=f"Simulated store {number + 1}",
            groups=[PRICE_GROUP],
            transport="pull" if number in pulling else "amqp",
        )
        for number in range(count)
    ]


async def fleet_revision(repository: Repository, entity: str) -> int:
    """Return the newest committed revision of ``entity`` that every store gets.

    That is the newest document meant for all stores or for PRICE_GROUP.
    The committed revision itself may belong to a price of another group,
    which no store of the fleet receives, so an AMQP store never reaches it.
    """
    committed = await repository.committed_revision(entity)
    query = {
        "entity": entity,
        "scope": {"$in": [SCOPE_ALL, group_scope(PRICE_GROUP)]},
        "rev": {"$lte": committed},
    }
    cursor = repository.db.documents.find(query, {"rev": 1}).sort("rev", -1)
    rows = await cursor.limit(1).to_list(1)
    return int(rows[0]["rev"]) if rows else 0


@dataclass
class FleetOptions:
    """Settings of the fleet's agents and of its registration."""

    entities: list[str] = field(default_factory=lambda: ["items", "prices", "stock"])
    pull_interval_seconds: float = 30.0
    heartbeat_interval_seconds: float = 120.0
    page_size: int = 5000
    http_timeout_seconds: float = 120.0
    concurrency: int = 8
    """Stores registered, started or removed at the same time."""


@dataclass
class SimulatedStore:
    """One store of the fleet: its record, secrets, SQLite file and agent."""

    record: StoreRecord
    secrets: StoreSecrets
    database: Path
    agent: StoreAgent | None = None
    offline_since: float | None = None
    offline_count: int = 0

    @property
    def store_id(self) -> str:
        return self.record.store_id

    @property
    def transport(self) -> Literal["amqp", "pull"]:
        return self.record.transport


class Fleet:
    """The simulated stores of one run, against the hub at ``api_url``."""

    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        api_url: str,
        folder: Path,
        options: FleetOptions | None = None,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.registry = StoreRegistry(repository)
        self.api_url = api_url
        self.folder = folder
        self.options = options or FleetOptions()
        self.stores: dict[str, SimulatedStore] = {}
        self._attempted: list[str] = []

    # Registration and removal --------------------------------------------

    async def register(self, records: list[StoreRecord]) -> None:
        """Register every store with the hub's registry; keep their secrets.

        Raises what ``StoreRegistry.register`` raises; stores registered
        before the error are still removed by ``remove_all``.
        """

        async def register_some(chunk: list[StoreRecord]) -> None:
            async with open_broker(self.settings) as broker:
                for record in chunk:
                    self._attempted.append(record.store_id)
                    registration = await self.registry.register(
                        record, broker.channel, broker.exchange, self.settings
                    )
                    if registration.secrets is None:
                        raise RuntimeError(
                            f"store {record.store_id} was already registered;"
                            " its secrets are unknown"
                        )
                    self.stores[record.store_id] = SimulatedStore(
                        record,
                        registration.secrets,
                        self.folder / f"{record.store_id}.sqlite3",
                    )

        started = time.monotonic()
        await asyncio.gather(*(register_some(chunk) for chunk in self._chunks(records)))
        logger.info(
            "registered %d stores in %.1f s", len(records), time.monotonic() - started
        )

    async def remove_all(self) -> None:
        """Stop every agent and remove every store this fleet tried to register.

        A store the registry does not know (its registration failed half-way)
        still gets its broker user and queues deleted. Errors are logged and
        the other stores are still removed.
        """
        await self.stop_all()
        started = time.monotonic()
        attempted = list(dict.fromkeys(self._attempted))

        repository_down = False

        async def remove_some(chunk: list[str]) -> None:
            nonlocal repository_down
            async with open_broker(self.settings) as broker:
                for store_id in chunk:
                    if repository_down:
                        await self._remove_broker_side(store_id)
                        continue
                    try:
                        async with asyncio.timeout(_REMOVE_TIMEOUT_SECONDS):
                            await remove_store(
                                self.registry, store_id, broker.channel, self.settings
                            )
                    except StoreNotFoundError:
                        await self._remove_broker_side(store_id)
                    except (HubError, AMQPError, OSError, TimeoutError) as error:
                        # The broker side matters most: the broker is shared,
                        # and the repository is this run's own.
                        repository_down = isinstance(
                            error, RepositoryUnavailableError | TimeoutError
                        )
                        logger.error(
                            "removing store %s failed (%s: %s); deleting its"
                            " broker user and queues directly",
                            store_id,
                            type(error).__name__,
                            error,
                        )
                        await self._remove_broker_side(store_id)

        await asyncio.gather(*(remove_some(chunk) for chunk in self._chunks(attempted)))
        self._attempted.clear()
        logger.info(
            "removed %d stores in %.1f s", len(attempted), time.monotonic() - started
        )

    async def _remove_broker_side(self, store_id: str) -> None:
        try:
            async with BrokerAdmin.from_settings(self.settings) as admin:
                await admin.delete_store_user(store_id)
                names = {queue_name(store_id, entity) for entity in ENTITIES}
                names.add(dead_letter_queue_name(store_id))
                names.update(await admin.store_queues(store_id))
            async with open_broker(self.settings) as broker:
                for name in sorted(names):
                    await broker.channel.queue_delete(name)
        except (HubError, AMQPError, OSError) as error:
            logger.error(
                "store %s: deleting broker user and queues failed (%s: %s)",
                store_id,
                type(error).__name__,
                error,
            )

    def _chunks(self, items: list[_T]) -> list[list[_T]]:
        workers = max(1, self.options.concurrency)
        return [
            items[start::workers] for start in range(workers) if items[start::workers]
        ]

    # Agents ----------------------------------------------------------------

    def _agent(self, store: SimulatedStore) -> StoreAgent:
        secrets = store.secrets
        if secrets.broker_user is None or secrets.broker_password is None:
            raise RuntimeError(f"store {store.store_id} has no broker credentials")
        options = self.options
        return StoreAgent(
            AgentSettings(
                store_id=store.store_id,
                mode=store.transport,
                hub_url=self.api_url,
                amqp_url=amqp_url_with_user(
                    self.settings.amqp_url, secrets.broker_user, secrets.broker_password
                ),
                token=secrets.api_token,
                database=store.database,
                entities=options.entities,
                pull_interval_seconds=options.pull_interval_seconds,
                heartbeat_interval_seconds=options.heartbeat_interval_seconds,
                page_size=options.page_size,
                http_timeout_seconds=options.http_timeout_seconds,
            )
        )

    async def start_all(self) -> None:
        """Start the agent of every store that is not running."""
        started = time.monotonic()
        waiting = [store for store in self.stores.values() if store.agent is None]
        await self._run_limited(self.bring_online, [s.store_id for s in waiting])
        logger.info(
            "started %d agents in %.1f s", len(waiting), time.monotonic() - started
        )

    async def bring_online(self, store_id: str) -> None:
        """Start the store's agent on its SQLite file; it pulls what it missed."""
        store = self.stores[store_id]
        if store.agent is not None:
            return
        agent = self._agent(store)
        await agent.start()
        store.agent = agent
        store.offline_since = None

    async def take_offline(self, store_id: str) -> None:
        """Stop the store's agent; its queues keep receiving changes."""
        store = self.stores[store_id]
        if store.agent is None:
            return
        agent, store.agent = store.agent, None
        store.offline_since = time.monotonic()
        store.offline_count += 1
        await agent.stop()

    async def stop_all(self) -> None:
        """Stop every running agent."""
        running = [s.store_id for s in self.stores.values() if s.agent is not None]
        await self._run_limited(self.take_offline, running)

    async def _run_limited(
        self, action: Callable[[str], Awaitable[None]], store_ids: Iterable[str]
    ) -> None:
        limit = asyncio.Semaphore(max(1, self.options.concurrency))

        async def one(store_id: str) -> None:
            async with limit:
                await action(store_id)

        await asyncio.gather(*(one(store_id) for store_id in store_ids))

    def online(self) -> list[SimulatedStore]:
        """Return the stores whose agent runs."""
        return [store for store in self.stores.values() if store.agent is not None]

    def offline(self) -> list[SimulatedStore]:
        """Return the stores whose agent is stopped."""
        return [store for store in self.stores.values() if store.agent is None]

    async def pull_all(self) -> dict[str, list[PullResult]]:
        """Pull every entity once for every online store; return the results."""
        results: dict[str, list[PullResult]] = {}

        async def pull(store_id: str) -> None:
            agent = self.stores[store_id].agent
            if agent is not None:
                results[store_id] = await agent.pull_once()

        await self._run_limited(pull, [store.store_id for store in self.online()])
        return results

    # Local copies ---------------------------------------------------------

    def applied_revisions(self) -> dict[str, dict[str, int]]:
        """Return every store's applied revision of each entity.

        Blocking: call it with ``asyncio.to_thread``. The SQLite file of an
        offline store is opened for the read.
        """
        revisions: dict[str, dict[str, int]] = {}
        for store in list(self.stores.values()):
            agent = store.agent
            try:
                if agent is not None:
                    local = agent.local_store
                    revisions[store.store_id] = {
                        entity: local.applied_revision(entity)
                        for entity in self.options.entities
                    }
                    continue
                with LocalStore(store.database) as local:
                    revisions[store.store_id] = {
                        entity: local.applied_revision(entity)
                        for entity in self.options.entities
                    }
            except (RuntimeError, sqlite3.Error):
                # The agent stopped between the check and the read; the next
                # sample reads it again.
                continue
        return revisions
