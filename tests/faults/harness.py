"""A hub on the real servers for the fault-injection cases, and their checks.

Every case ends with ``assert_converged``: each store's SQLite copy must hold
exactly the documents the hub's repository holds for that store (same keys,
revisions, hashes and data) and must have read up to the committed revision.
"""

import asyncio
import inspect
import os
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aio_pika.abc import AbstractChannel, AbstractExchange

from connectors.config import CONFIG_ENV, DEFAULT_CONFIG_PATH
from contracts import queue_name
from hub.api import create_app
from hub.broker import declare_store_queue
from hub.convergence import Comparison, compare_store
from hub.repository import Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.stores import StoreRecord
from store_agent.agent import StoreAgent
from store_agent.local_store import LocalStore
from store_agent.puller import RetryPolicy
from store_agent.settings import AgentSettings
from tests.conftest import REPO_DIR
from tests.delivery_support import insert_store, item_change

__all__ = [
    "ITEMS",
    "Hub",
    "Store",
    "agent_environment",
    "assert_converged",
    "compare_all",
    "fast_connectors_file",
    "hub_environment",
    "running",
    "serve_hub",
    "wait_until",
]

ITEMS = "items"
CONVERGE_SECONDS = 90.0
# Retries of the agents' pull client after a 503 or a refused connection.
AGENT_RETRY = RetryPolicy(attempts=4, base_delay_seconds=0.1, max_delay_seconds=1.0)


@dataclass
class Store:
    """A registered store, its API token and the path of its SQLite copy."""

    record: StoreRecord
    token: str
    database: Path

    @property
    def store_id(self) -> str:
        return self.record.store_id


@dataclass
class Hub:
    """The repository, settings and served pull API of one case, and its stores."""

    settings: Settings
    repository: Repository
    api_url: str
    folder: Path
    queues: list[str]
    stores: list[Store] = field(default_factory=list)

    async def add_store(
        self,
        transport: str = "amqp",
        channel: AbstractChannel | None = None,
        exchange: AbstractExchange | None = None,
    ) -> Store:
        """Register a store; an AMQP store gets its queue on ``exchange``."""
        record, token = await insert_store(
            self.repository, transport=transport, prefix="f"
        )
        store = Store(record, token, self.folder / f"{record.store_id}.sqlite3")
        if transport == "amqp":
            assert channel is not None
            assert exchange is not None
            self.queues.append(queue_name(record.store_id, ITEMS))
            await declare_store_queue(
                channel,
                exchange,
                self.settings,
                store_id=record.store_id,
                entity=ITEMS,
                groups=record.groups,
            )
        self.stores.append(store)
        return store

    def agent(self, store: Store, **overrides: object) -> StoreAgent:
        """Return an in-process agent of ``store`` on the case's servers."""
        options: dict[str, object] = {
            "store_id": store.store_id,
            "mode": store.record.transport,
            "hub_url": self.api_url,
            "token": store.token,
            "amqp_url": self.settings.amqp_url,
            "database": store.database,
            "entities": [ITEMS],
            "pull_interval_seconds": 0.2,
            "heartbeat_interval_seconds": 2.0,
            "requeue_delay_seconds": 0.1,
            **overrides,
        }
        return StoreAgent(AgentSettings(**options), retry=AGENT_RETRY)  # type: ignore[arg-type]

    def agent_command(self, store: Store, *arguments: str) -> list[str]:
        """Return the command line of ``retail-hub-agent run`` for ``store``."""
        return [
            str(REPO_DIR / ".venv" / "bin" / "retail-hub-agent"),
            "run",
            "--store-id",
            store.store_id,
            "--database",
            str(store.database),
            "--amqp-url",
            self.settings.amqp_url,
            *arguments,
        ]

    async def commit(self, keys: list[str], version: int) -> int:
        """Commit a version of each item in ``keys``; return the last revision."""
        changes = [item_change(key, version) for key in keys]
        return await self.repository.write_changes(ITEMS, changes)


@asynccontextmanager
async def serve_hub(
    settings: Settings, repository: Repository, folder: Path, queues: list[str]
) -> AsyncIterator[Hub]:
    """Serve the pull API on ``repository`` and yield the case's hub."""
    # Agents in these cases pull often and in small pages; the rate limit is
    # covered by the API's own tests.
    settings = settings.model_copy(
        update={"api_rate_per_second": 1000.0, "api_rate_burst": 2000}
    )
    async with BackgroundServer(create_app(settings, repository)) as api:
        yield Hub(settings, repository, api.url, folder, queues)


async def compare_all(repository: Repository, stores: list[Store]) -> list[Comparison]:
    """Compare every store's SQLite copy with the hub's view of that store."""
    results = []
    for store in stores:

        def read(path: Path = store.database) -> tuple[dict[str, object], int]:
            with LocalStore(path) as local:
                return dict(local.live_documents(ITEMS)), local.applied_revision(ITEMS)

        documents, revision = await asyncio.to_thread(read)
        results.append(
            await compare_store(
                repository,
                store.record,
                ITEMS,
                documents,  # type: ignore[arg-type]
                revision,
            )
        )
    return results


async def assert_converged(
    repository: Repository, stores: list[Store], seconds: float = CONVERGE_SECONDS
) -> list[Comparison]:
    """Wait until every store matches the hub; fail naming each store that does not.

    Returns the comparisons, one per store, in the order of ``stores``. The
    full comparison reads every document, which FerretDB's SQLite backend
    does slowly, so it runs only once every store's applied revision reached
    the committed one, and at most every 2 s.
    """
    assert stores, "a convergence check needs at least one store"
    deadline = time.monotonic() + seconds
    while True:
        committed = await repository.committed_revision(ITEMS)
        applied = await asyncio.to_thread(_applied_revisions, stores)
        last_try = time.monotonic() > deadline
        if last_try or min(applied) >= committed:
            results = await compare_all(repository, stores)
            if last_try or all(result.converged for result in results):
                break
            await asyncio.sleep(2.0)
        await asyncio.sleep(0.2)
    for result in results:
        where = f"store {result.store_id}"
        assert result.missing == [], (
            f"{where}: documents missing: {result.missing[:10]}"
        )
        assert result.extra == [], (
            f"{where}: documents not in the hub: {result.extra[:10]}"
        )
        assert result.different == [], (
            f"{where}: documents that differ: {result.different[:10]}"
        )
        assert result.store_revision >= result.hub_revision, (
            f"{where}: applied revision {result.store_revision} is behind the"
            f" hub's {result.hub_revision}"
        )
    return results


def _applied_revisions(stores: list[Store]) -> list[int]:
    revisions = []
    for store in stores:
        with LocalStore(store.database) as local:
            revisions.append(local.applied_revision(ITEMS))
    return revisions


def fast_connectors_file(folder: Path) -> Path:
    """Write the shipped connectors file with fast ERP retries; return its path.

    One retry after 50 ms instead of three after 1, 2 and 4 s, so a case with
    a lasting ERP fault fails in well under a second.
    """
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    text = text.replace("retries = 3 ", "retries = 1 ", 1)
    text = text.replace(
        "retry_backoff_seconds = 1.0", "retry_backoff_seconds = 0.05", 1
    )
    text = text.replace(
        "max_requests_per_second = 10.0", "max_requests_per_second = 0", 1
    )
    assert "retries = 1 " in text
    assert "retry_backoff_seconds = 0.05" in text
    path = folder / "entities.toml"
    path.write_text(text, encoding="utf-8")
    return path


def hub_environment(
    settings: Settings, connectors_file: Path | None = None
) -> dict[str, str]:
    """Return the environment of a ``retail-hub`` subprocess with ``settings``."""
    values: Mapping[str, object] = {
        "MONGO_URL": settings.mongo_url,
        "MONGO_DATABASE": settings.mongo_database,
        "MONGO_TIMEOUT_MS": settings.mongo_timeout_ms,
        "AMQP_URL": settings.amqp_url,
        "EXCHANGE": settings.exchange,
        "DEAD_LETTER_EXCHANGE": settings.dead_letter_exchange,
        "ERP_URL": settings.erp_url,
        "ERP_PAGE_SIZE": settings.erp_page_size,
        "ERP_TIMEOUT_SECONDS": settings.erp_timeout_seconds,
        "PUBLISH_BATCH_SIZE": settings.publish_batch_size,
    }
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("RETAIL_HUB_")
    }
    environment.update({f"RETAIL_HUB_{k}": str(v) for k, v in values.items()})
    if connectors_file is not None:
        environment[CONFIG_ENV] = str(connectors_file)
    environment["PYTHONPATH"] = str(REPO_DIR)
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def agent_environment() -> dict[str, str]:
    """Return the environment of an agent subprocess: no inherited agent settings."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("RETAIL_HUB_AGENT_")
    }
    environment["PYTHONPATH"] = str(REPO_DIR)
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


@asynccontextmanager
async def running(
    command: list[str], log: Path, environment: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``command`` with its output appended to ``log``; kill it afterwards.

    The process is killed on leaving the block unless it has exited already.
    """
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=REPO_DIR,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]], what: str, seconds: float = 60.0
) -> None:
    """Poll ``check`` (a function or a coroutine function) until it returns True.

    Raises AssertionError naming ``what`` after ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
