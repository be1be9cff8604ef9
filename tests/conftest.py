"""Fixtures that give each test its own database, exchange and store ids.

Tests talk to the real RabbitMQ and MongoDB-protocol servers named by the
``RETAIL_HUB_MONGO_URL`` and ``RETAIL_HUB_AMQP_URL`` settings (by default
those ``deploy/services.sh start`` runs on loopback). Every name a test
creates is unique to it and removed afterwards, so the suite can run twice in
a row on one broker.
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import aio_pika
import pytest

from hub.credentials import BrokerAdmin
from hub.repository import Repository
from hub.runtime import Broker, open_broker
from hub.serving import free_port
from hub.settings import Settings

REPO_DIR = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def unique(prefix: str) -> str:
    """Return ``prefix`` with a random suffix, valid as a store or queue id."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _server_reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    try:
        with socket.create_connection((host, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _servers_running() -> None:
    base = Settings()
    missing = [
        name
        for name, url, port in (
            ("RabbitMQ", base.amqp_url, 5672),
            ("MongoDB-protocol server", base.mongo_url, 27017),
        )
        if not _server_reachable(url, port)
    ]
    if missing:
        pytest.exit(
            f"{' and '.join(missing)} not reachable; start them with "
            "`bash deploy/services.sh start` or set RETAIL_HUB_AMQP_URL and "
            "RETAIL_HUB_MONGO_URL",
            returncode=3,
        )


@pytest.fixture
def settings() -> Settings:
    """Settings with a database and an exchange of this test's own."""
    return Settings(
        mongo_database=unique("rh_test_"),
        exchange=unique("rh-test-"),
        dead_letter_exchange=unique("rh-test-dlx-"),
    )


@pytest.fixture
async def repository(settings: Settings) -> AsyncIterator[Repository]:
    repo = Repository.from_settings(settings)
    await repo.ensure_indexes()
    yield repo
    await repo.client.drop_database(settings.mongo_database)
    await repo.close()


@pytest.fixture
async def broker(settings: Settings) -> AsyncIterator[Broker]:
    """A confirming channel on the test's exchange, deleted afterwards."""
    async with open_broker(settings) as opened:
        yield opened
        await opened.exchange.delete()
        # Declared with the first store queue; deleting a missing exchange
        # succeeds.
        await opened.channel.exchange_delete(settings.dead_letter_exchange)


@pytest.fixture
async def cleanup_queues(settings: Settings) -> AsyncIterator[list[str]]:
    """A list the test appends queue names to; they are deleted afterwards."""
    names: list[str] = []
    yield names
    # Every store queue comes with the store's dead-letter queue.
    stores = {name.split(".")[1] for name in names if name.startswith("store.")}
    names += [f"store.{store}.dead-letter" for store in sorted(stores)]
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        for name in names:
            channel = await connection.channel()
            # A queue that was never declared or is already gone closes the
            # channel; the next name gets a new one.
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                await channel.queue_delete(name)
    # A registered store also has a queue per entity and a broker user.
    # Deleting a missing queue or user is a no-op.
    store_ids = {name.split(".")[1] for name in names if name.startswith("store.")}
    async with BrokerAdmin.from_settings(settings) as admin:
        for store_id in sorted(store_ids):
            store_queues = await admin.store_queues(store_id)
            await admin.delete_store_user(store_id)
            if store_queues:
                async with await aio_pika.connect(settings.amqp_url) as connection:
                    channel = await connection.channel()
                    for name in store_queues:
                        await channel.queue_delete(name)


def ferretdb_binary() -> Path:
    """Return the FerretDB binary that ``deploy/services.sh`` built."""
    explicit = os.environ.get("RETAIL_HUB_FERRETDB_BIN")
    if explicit:
        return Path(explicit)
    state = Path(os.environ.get("RETAIL_HUB_STATE_DIR", REPO_DIR / ".state"))
    found = sorted((state / "bin").glob("ferretdb-*"))
    if not found:
        pytest.fail("no FerretDB binary in .state/bin; run deploy/services.sh start")
    return found[-1]


class PrivateFerretDB:
    """A FerretDB process of one test, which the test may stop and start."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(ferretdb_binary()),
                "--handler=sqlite",
                f"--sqlite-url=file:{self.directory / 'data'}/",
                f"--state-dir={self.directory}",
                f"--listen-addr=127.0.0.1:{self.port}",
                "--debug-addr=127.0.0.1:0",
                "--telemetry=disable",
                "--log-level=error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_ready(self, seconds: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                await asyncio.sleep(0.1)
        raise TimeoutError(f"FerretDB on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
async def private_ferretdb(tmp_path: Path) -> AsyncIterator[PrivateFerretDB]:
    server = PrivateFerretDB(tmp_path / "ferretdb")
    server.start()
    await server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
def fixtures_dir() -> Iterator[Path]:
    yield FIXTURES
