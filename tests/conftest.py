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
import signal
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import aio_pika
import pytest

from bench.soak_services import RABBITMQ_SERVER, rabbitmq_node_environment
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


class PrivateRabbitMQ:
    """A RabbitMQ node of one test, which the test may kill and start again.

    The node has its own name, AMQP and distribution ports, data folder, log
    folder, configuration and (empty) plugin list under ``directory``, so
    killing it leaves the shared broker alone. ``start`` runs the server in a
    new session, and every process of that session belongs to this node.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.node = f"{unique('rh-test-')}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        while self.dist_port == self.port:
            self.dist_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.pid_file = directory / "rabbitmq.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "disk_free_limit.absolute = 50MB\n"
        )
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq-env.conf").write_text("")

    def _environment(self) -> dict[str, str]:
        return rabbitmq_node_environment(
            self.directory, self.node, self.port, self.dist_port
        )

    def start(self) -> None:
        """Start the node on its data folder; ``wait_ready`` waits for it."""
        if not RABBITMQ_SERVER.exists():
            pytest.fail(f"{RABBITMQ_SERVER} is missing; run deploy/services.sh start")
        self.pid_file.unlink(missing_ok=True)
        self.starts += 1
        log = (self.directory / f"server-{self.starts}.log").open("wb")
        with log:
            self.process = subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self, seconds: float = 120.0) -> None:
        """Wait until the node accepts an AMQP connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(
                    f"RabbitMQ node {self.node} exited while starting; see the"
                    f" logs in {self.directory}"
                )
            try:
                connection = await aio_pika.connect(self.url, timeout=2)
            except (OSError, aio_pika.exceptions.AMQPError, TimeoutError):
                await asyncio.sleep(0.25)
                continue
            await connection.close()
            return
        raise TimeoutError(
            f"RabbitMQ node {self.node} did not accept connections on port"
            f" {self.port} within {seconds:.0f} s; see the logs in {self.directory}"
        )

    def beam_pid(self) -> int:
        """Return the pid of the node's Erlang VM, from its pid file.

        Raises RuntimeError unless that process belongs to this node's session,
        so a stale or foreign pid is never signalled.
        """
        if self.process is None:
            raise RuntimeError(f"RabbitMQ node {self.node} is not started")
        pid = int(self.pid_file.read_text().strip())
        if os.getsid(pid) != self.process.pid:
            raise RuntimeError(
                f"pid {pid} in {self.pid_file} is not a process of node {self.node}"
            )
        return pid

    def kill(self) -> None:
        """SIGKILL the node's Erlang VM, as a crash would, and reap its processes."""
        pid = self.beam_pid()
        os.kill(pid, signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """Kill every process of the node's session; safe to call more than once."""
        if self.process is None:
            return
        self._reap()

    def _reap(self) -> None:
        assert self.process is not None
        # The session id is the start script's pid, and the node's processes
        # (the VM, erl_child_setup, inet_gethost) share it as process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None


@pytest.fixture
async def private_rabbitmq(tmp_path: Path) -> AsyncIterator[PrivateRabbitMQ]:
    """A started RabbitMQ node of the test's own; every process of it ends after."""
    node = PrivateRabbitMQ(tmp_path / "rabbitmq")
    try:
        node.start()
        await node.wait_ready()
        yield node
    finally:
        node.stop()
