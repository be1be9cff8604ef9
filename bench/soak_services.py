"""The hub's processes for the soak test and the end_to_end row, each a child process.

``HubProcesses`` starts, on free loopback ports:

- a private FerretDB (SQLite backend) in a temporary folder, so the load
  does not slow the shared server that other test runs use;
- the ERP simulator (``bench.soak_erp``);
- the pull API (``retail-hub serve``);
- optionally ``retail-hub connector schedule`` with a connectors file whose
  intervals are short, ``retail-hub publisher run`` and ``retail-hub monitor run``.

The broker is the one of ``RETAIL_HUB_AMQP_URL``, with an exchange and a
dead-letter exchange of this run only, deleted at the end. Each child writes
its output to ``<folder>/<name>.log``.
"""

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import aio_pika
import httpx

from connectors.config import CONFIG_ENV, DEFAULT_CONFIG_PATH
from hub.serving import free_port
from hub.settings import Settings

__all__ = [
    "RABBITMQ_SERVER",
    "ChildProcess",
    "HubProcesses",
    "ServiceOptions",
    "ferretdb_binary",
    "process_rss_bytes",
    "rabbitmq_node_environment",
    "rabbitmq_rss_bytes",
]

logger = logging.getLogger("bench.soak")

REPO_DIR = Path(__file__).resolve().parent.parent
_START_TIMEOUT_SECONDS = 120.0
_STOP_TIMEOUT_SECONDS = 20.0
MONGO_POOL_SIZE = 10
BROKER = "broker"
"""Name of the private RabbitMQ node's child process."""
"""Connections each process opens to the private FerretDB, at most."""


def ferretdb_binary() -> Path:
    """Return the FerretDB binary that ``deploy/services.sh`` built.

    Raises FileNotFoundError when there is none.
    """
    explicit = os.environ.get("RETAIL_HUB_FERRETDB_BIN")
    if explicit:
        return Path(explicit)
    state = Path(os.environ.get("RETAIL_HUB_STATE_DIR", REPO_DIR / ".state"))
    found = sorted((state / "bin").glob("ferretdb-*"))
    if not found:
        raise FileNotFoundError(
            f"no FerretDB binary in {state / 'bin'}; run deploy/services.sh start"
        )
    return found[-1]


def process_rss_bytes(pid: int) -> int | None:
    """Return the resident set size of process ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _listening_inodes(port: int) -> set[str]:
    """Return the socket inodes that listen on TCP ``port`` (IPv4 and IPv6)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # fields[1] is address:port in hex, fields[3] the state (0A: LISTEN).
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def rabbitmq_rss_bytes(port: int) -> int | None:
    """Return the RSS of the ``beam.smp`` process that listens on AMQP ``port``.

    Other RabbitMQ nodes on the machine (tests start private ones) are left
    out. Returns None when no such process is visible, for example when the
    broker runs in a container or on another machine.
    """
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not sockets:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "beam.smp":
                continue
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    return process_rss_bytes(int(entry.name))
        except OSError:
            continue
    return None


RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
"""Path of the server's start script in Debian's rabbitmq-server package."""


def rabbitmq_node_environment(
    folder: Path, node: str, port: int, dist_port: int
) -> dict[str, str]:
    """Return the environment of a RabbitMQ node that shares nothing with others.

    The node is named ``node`` and listens on ``port`` (AMQP) and
    ``dist_port`` (Erlang distribution), all on loopback. Its data, logs,
    pid file (``rabbitmq.pid``) and configuration files (``rabbitmq.conf``,
    ``advanced.config``, ``enabled_plugins``, ``rabbitmq-env.conf``) are in
    ``folder``.
    """
    return {
        **os.environ,
        # The Erlang cookie is created in HOME.
        "HOME": str(folder),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
            "-kernel inet_dist_use_interface {127,0,0,1}"
        ),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }


def private_broker_command(
    folder: Path, port: int, management_port: int
) -> tuple[list[str], dict[str, str]]:
    """Return the command and environment of a RabbitMQ node of this run only.

    The node has its own name, ports, data, logs and configuration under
    ``folder``, with the management plugin on ``management_port``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dist_port = free_port()
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        "management.tcp.ip = 127.0.0.1\n"
        f"management.tcp.port = {management_port}\n"
        "disk_free_limit.absolute = 200MB\n"
    )
    (folder / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (folder / "rabbitmq-env.conf").write_text("")
    node = f"rh-soak-{uuid.uuid4().hex[:8]}@localhost"
    env = rabbitmq_node_environment(folder, node, port, dist_port)
    return [str(RABBITMQ_SERVER)], env


class ChildProcess:
    """A child process that logs to a file; stopped by SIGTERM, then SIGKILL."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        own_session: bool = False,
    ) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        # A process in a session of its own is stopped with every process
        # it started (RabbitMQ's start script runs the Erlang VM as a child).
        self.own_session = own_session
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_DIR,
            start_new_session=own_session,
        )
        logger.info("started %s (pid %d): %s", name, self.process.pid, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _signal(self, signum: int) -> None:
        if self.own_session:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def running(self) -> bool:
        """Return whether the process has not exited."""
        return self.process.poll() is None

    def check_running(self) -> None:
        """Raise RuntimeError, with the end of its log, if the process has exited."""
        if self.running():
            return
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(
            f"{self.name} exited with status {self.process.returncode}; end of"
            f" {self.log_path}:\n{tail}"
        )

    async def stop(self) -> None:
        """Send SIGTERM, wait, then SIGKILL if it is still running."""
        if self.running():
            self._signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(
                    self.process.wait, timeout=_STOP_TIMEOUT_SECONDS
                )
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop after SIGTERM; killing it", self.name)
                self._signal(signal.SIGKILL)
                await asyncio.to_thread(self.process.wait)
        if self.own_session:
            # Children of the start script that outlived it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        logger.info("stopped %s (status %s)", self.name, self.process.returncode)


@dataclass
class ServiceOptions:
    """The processes to start, the ERP catalogue's size and the schedule."""

    stores: int
    items: int = 2000
    stock_items: int = 2
    store_id_prefix: str = ""
    connectors: bool = True
    publisher: bool = True
    monitor: bool = True
    intervals: dict[str, float] = field(
        default_factory=lambda: {"items": 30.0, "prices": 30.0, "stock": 60.0}
    )
    """Connector intervals in seconds; other entities run every 600 s."""
    private_broker: bool = False
    """Start a RabbitMQ node of this run instead of using RETAIL_HUB_AMQP_URL."""
    publish_interval_seconds: float = 10.0
    monitor_interval_seconds: float = 30.0
    keep_folder: bool = False


def _await_port(port: int, child: ChildProcess, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        child.check_running()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{child.name} did not listen on port {port} within {seconds:.0f} s"
                ) from None
        time.sleep(0.2)


def connectors_file(
    folder: Path, intervals: Mapping[str, float], store_id_prefix: str
) -> Path:
    """Write a copy of the shipped connectors file with other intervals and prefix.

    Raises ValueError when the shipped file no longer has the lines this
    rewrites.
    """
    lines = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").splitlines()
    entity = None
    rewritten: list[str] = []
    prefixes = 0
    for line in lines:
        header = re.match(r"\[entities\.(\w+)\]$", line)
        if header:
            entity = header.group(1)
        if line.startswith("interval_seconds =") and entity is not None:
            line = f"interval_seconds = {intervals.get(entity, 600.0)}"
        if line.startswith("store_id_prefix ="):
            line = f'store_id_prefix = "{store_id_prefix}"'
            prefixes += 1
        rewritten.append(line)
    if prefixes != 1:
        raise ValueError(
            f"expected one store_id_prefix line in {DEFAULT_CONFIG_PATH}, found"
            f" {prefixes}"
        )
    path = folder / "entities.toml"
    path.write_text("\n".join(rewritten) + "\n", encoding="utf-8")
    return path


class HubProcesses:
    """The private FerretDB, the ERP simulator and the hub's services.

    Use it as an async context manager. ``settings`` are the hub settings
    that point at them, and ``children`` the started processes by name.
    """

    def __init__(self, options: ServiceOptions, base: Settings | None = None) -> None:
        self.options = options
        self.base = base or Settings()
        suffix = uuid.uuid4().hex[:8]
        self.folder = Path(tempfile.mkdtemp(prefix="retail-hub-soak-"))
        self.ferretdb_port = free_port()
        self.erp_port = free_port()
        self.api_port = free_port()
        self.monitor_port = free_port()
        broker: dict[str, object] = {}
        if options.private_broker:
            self.broker_port = free_port()
            self.broker_management_port = free_port()
            broker = {
                "amqp_url": f"amqp://guest:guest@127.0.0.1:{self.broker_port}/",
                "amqp_management_url": (
                    f"http://127.0.0.1:{self.broker_management_port}"
                ),
                "amqp_management_user": None,
                "amqp_management_password": None,
            }
        self.settings = self.base.model_copy(
            update={
                **broker,
                # FerretDB 1.24's SQLite backend serves at most 100
                # operations at once. Capping each process's pool keeps one
                # busy process (the API with hundreds of stores) from taking
                # them all.
                "mongo_url": (
                    f"mongodb://127.0.0.1:{self.ferretdb_port}/"
                    f"?maxPoolSize={MONGO_POOL_SIZE}"
                ),
                "mongo_database": f"retail_hub_soak_{suffix}",
                "mongo_timeout_ms": 20_000,
                "exchange": f"rh-soak-{suffix}",
                "dead_letter_exchange": f"rh-soak-dead-letter-{suffix}",
                "erp_url": f"http://127.0.0.1:{self.erp_port}",
                "api_host": "127.0.0.1",
                "api_port": self.api_port,
                "publish_interval_seconds": options.publish_interval_seconds,
            }
        )
        self.children: dict[str, ChildProcess] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def erp_admin_url(self) -> str:
        return f"http://127.0.0.1:{self.erp_port}"

    def environment(self) -> dict[str, str]:
        """Return the environment of the hub's children: this run's settings."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("RETAIL_HUB_")
        }
        settings = self.settings
        env.update(
            {
                "RETAIL_HUB_MONGO_URL": settings.mongo_url,
                "RETAIL_HUB_MONGO_DATABASE": settings.mongo_database,
                "RETAIL_HUB_MONGO_TIMEOUT_MS": str(settings.mongo_timeout_ms),
                "RETAIL_HUB_AMQP_URL": settings.amqp_url,
                "RETAIL_HUB_AMQP_MANAGEMENT_URL": settings.amqp_management_url,
                "RETAIL_HUB_EXCHANGE": settings.exchange,
                "RETAIL_HUB_DEAD_LETTER_EXCHANGE": settings.dead_letter_exchange,
                "RETAIL_HUB_ERP_URL": settings.erp_url,
                "RETAIL_HUB_API_HOST": "127.0.0.1",
                "RETAIL_HUB_API_PORT": str(self.api_port),
                "RETAIL_HUB_PUBLISH_INTERVAL_SECONDS": str(
                    self.options.publish_interval_seconds
                ),
                "RETAIL_HUB_MONITOR_HOST": "127.0.0.1",
                "RETAIL_HUB_MONITOR_PORT": str(self.monitor_port),
                "RETAIL_HUB_MONITOR_INTERVAL_SECONDS": str(
                    self.options.monitor_interval_seconds
                ),
                # Stores taken offline on purpose stay away for minutes.
                "RETAIL_HUB_MONITOR_SILENT_AFTER_SECONDS": "900",
            }
        )
        for name in ("amqp_management_user", "amqp_management_password"):
            value = getattr(settings, name)
            if value is not None:
                text = value if isinstance(value, str) else value.get_secret_value()
                env[f"RETAIL_HUB_{name.upper()}"] = text
        return env

    def _start(self, name: str, command: list[str], env: Mapping[str, str]) -> None:
        self.children[name] = ChildProcess(
            name, command, env, self.folder / f"{name}.log"
        )

    async def __aenter__(self) -> Self:
        try:
            await self._start_all()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _start_all(self) -> None:
        options = self.options
        if options.private_broker:
            command, env = private_broker_command(
                self.folder / "rabbitmq", self.broker_port, self.broker_management_port
            )
            self.children[BROKER] = ChildProcess(
                BROKER, command, env, self.folder / "rabbitmq.log", own_session=True
            )
            await self._wait_port(BROKER, self.broker_port)
            await self._wait_port(BROKER, self.broker_management_port)
        data = self.folder / "ferretdb"
        (data / "data").mkdir(parents=True)
        self._start(
            "ferretdb",
            [
                str(ferretdb_binary()),
                "--handler=sqlite",
                f"--sqlite-url=file:{data / 'data'}/",
                f"--state-dir={data}",
                f"--listen-addr=127.0.0.1:{self.ferretdb_port}",
                "--debug-addr=127.0.0.1:0",
                "--telemetry=disable",
                "--log-level=error",
            ],
            os.environ,
        )
        python = sys.executable
        self._start(
            "erp",
            [
                python,
                "-m",
                "bench.soak_erp",
                f"--port={self.erp_port}",
                f"--items={options.items}",
                f"--stores={options.stores}",
                f"--stock-items={options.stock_items}",
            ],
            os.environ,
        )
        await self._wait_port("ferretdb", self.ferretdb_port)
        await self._wait_port("erp", self.erp_port)

        env = self.environment()
        await self._declare_exchanges()
        self._start("api", [python, "-m", "hub.cli", "serve"], env)
        await self._wait_port("api", self.api_port)
        if options.connectors:
            self.start_connectors()
        if options.publisher:
            self._start("publisher", [python, "-m", "hub.cli", "publisher", "run"], env)
        if options.monitor:
            self._start("monitor", [python, "-m", "hub.cli", "monitor", "run"], env)
            await self._wait_port("monitor", self.monitor_port)

    def start_connectors(self) -> None:
        """Start ``retail-hub connector schedule`` with this run's intervals."""
        env = self.environment()
        env[CONFIG_ENV] = str(
            connectors_file(
                self.folder, self.options.intervals, self.options.store_id_prefix
            )
        )
        command = [sys.executable, "-m", "hub.cli", "connector", "schedule"]
        self._start("connectors", command, env)

    async def stop_child(self, name: str) -> None:
        """Stop the child ``name`` if it was started."""
        child = self.children.get(name)
        if child is not None:
            await child.stop()

    async def _wait_port(self, name: str, port: int) -> None:
        await asyncio.to_thread(
            _await_port, port, self.children[name], _START_TIMEOUT_SECONDS
        )

    async def _declare_exchanges(self) -> None:
        # The API and the stores' queues need the exchanges before the first
        # connector run declares them.
        connection = await aio_pika.connect(self.settings.amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.declare_exchange(
                self.settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )

    def check_running(self, names: Iterable[str] | None = None) -> None:
        """Raise RuntimeError if a child of ``names`` (default: every one) exited."""
        for name, child in self.children.items():
            if names is None or name in names:
                child.check_running()

    def pids(self) -> dict[str, int]:
        """Return the pid of every running child but the broker's start script."""
        return {
            name: child.pid
            for name, child in self.children.items()
            if child.running() and name != BROKER
        }

    async def close(self) -> None:
        """Stop every child, delete the exchanges and, unless kept, the folder.

        A private broker is stopped last, with its exchanges and queues.
        """
        for name in ("monitor", "publisher", "connectors", "api", "erp", "ferretdb"):
            child = self.children.get(name)
            if child is not None:
                try:
                    await child.stop()
                except Exception:
                    logger.exception("stopping %s failed", name)
        if self.options.private_broker:
            await self.stop_child(BROKER)
        else:
            await self._delete_exchanges()
        if not self.options.keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            logger.info("logs and data kept in %s", self.folder)

    async def _delete_exchanges(self) -> None:
        try:
            connection = await aio_pika.connect(self.settings.amqp_url, timeout=10)
            async with connection:
                channel = await connection.channel()
                await channel.exchange_delete(self.settings.exchange)
                await channel.exchange_delete(self.settings.dead_letter_exchange)
        except Exception:
            logger.exception(
                "deleting exchanges %s and %s failed",
                self.settings.exchange,
                self.settings.dead_letter_exchange,
            )


async def erp_post(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    """POST ``body`` to an admin route of the ERP simulator; return its JSON body."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.post(path, json=body)
        response.raise_for_status()
        answer: dict[str, object] = response.json()
        return answer
