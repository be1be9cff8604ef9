"""What one check reads: queue statistics from RabbitMQ, state from the repository."""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from contracts import ENTITIES
from hub.repository import Repository, translate_unavailable
from monitor.settings import MonitorSettings
from monitor.thresholds import GROUPS

__all__ = [
    "BrokerUnavailableError",
    "QueueStats",
    "RepositorySnapshot",
    "read_queue_stats",
    "read_repository",
]

logger = logging.getLogger(__name__)

_HTTP_TIMEOUT_SECONDS = 5.0
_AMQP_CONNECT_TIMEOUT_SECONDS = 3.0
_MAX_RUNS = 5000
_QUEUE_COLUMNS = ",".join(
    (
        "name",
        "messages",
        "consumers",
        "message_stats.publish_details.rate",
        "message_stats.deliver_get_details.rate",
    )
)


class BrokerUnavailableError(Exception):
    """RabbitMQ's AMQP port or management API cannot be reached."""


@dataclass(frozen=True)
class QueueStats:
    """One queue's numbers from the management API."""

    depth: int
    consumers: int
    publish_rate: float | None
    deliver_rate: float | None


@dataclass
class RepositorySnapshot:
    """The hub's state that one check reads from the repository."""

    stores: dict[str, dict[str, Any]]
    states: dict[str, dict[str, Any]]
    cursors: dict[tuple[str, str], int]
    committed: dict[str, int]
    runs: list[dict[str, Any]]
    group_thresholds: dict[str, dict[str, Any]]
    revision_times: dict[str, list[tuple[int, datetime]]] = field(default_factory=dict)


def _management_target(settings: MonitorSettings) -> tuple[str, str, str, str]:
    amqp = urlsplit(settings.amqp_url)
    user = settings.amqp_management_user or unquote(amqp.username or "guest")
    if settings.amqp_management_password is not None:
        password = settings.amqp_management_password.get_secret_value()
    else:
        password = unquote(amqp.password or "guest")
    vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
    return settings.amqp_management_url.rstrip("/"), user, password, vhost


async def _check_amqp_port(settings: MonitorSettings) -> None:
    amqp = urlsplit(settings.amqp_url)
    host = amqp.hostname or "127.0.0.1"
    port = amqp.port or (5671 if amqp.scheme == "amqps" else 5672)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), _AMQP_CONNECT_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError) as exc:
        raise BrokerUnavailableError(
            f"RabbitMQ at {host}:{port} is unreachable ({type(exc).__name__}: {exc})"
        ) from None
    writer.close()
    await writer.wait_closed()


async def read_queue_stats(settings: MonitorSettings) -> dict[str, QueueStats]:
    """Return the statistics of every queue of the vhost, by queue name.

    Makes one management API request, whatever the number of stores, and
    checks that the AMQP port accepts connections. Raises
    BrokerUnavailableError when either fails.
    """
    await _check_amqp_port(settings)
    base, user, password, vhost = _management_target(settings)
    url = f"{base}/api/queues/{quote(vhost, safe='')}"
    try:
        async with httpx.AsyncClient(
            auth=(user, password), timeout=_HTTP_TIMEOUT_SECONDS
        ) as http:
            response = await http.get(url, params={"columns": _QUEUE_COLUMNS})
    except httpx.HTTPError as exc:
        raise BrokerUnavailableError(
            f"RabbitMQ management API at {base} is unreachable"
            f" ({type(exc).__name__}: {exc})"
        ) from None
    if response.status_code != httpx.codes.OK:
        raise BrokerUnavailableError(
            f"GET {url} returned {response.status_code}: {response.text[:200]}"
        )
    stats: dict[str, QueueStats] = {}
    for row in response.json():
        message_stats = row.get("message_stats") or {}
        stats[row["name"]] = QueueStats(
            depth=int(row.get("messages") or 0),
            consumers=int(row.get("consumers") or 0),
            publish_rate=_rate(message_stats, "publish_details"),
            deliver_rate=_rate(message_stats, "deliver_get_details"),
        )
    return stats


def _rate(message_stats: dict[str, Any], name: str) -> float | None:
    details = message_stats.get(name)
    if not isinstance(details, dict) or "rate" not in details:
        return None
    return float(details["rate"])


async def read_repository(repository: Repository) -> RepositorySnapshot:
    """Read stores, their state and cursors, revisions, runs and group thresholds.

    Raises RepositoryUnavailableError when the repository cannot be reached.
    """
    db = repository.db
    async with translate_unavailable("reading the monitor's inputs"):
        stores = {row["_id"]: row for row in await db.stores.find({}).to_list(None)}
        states = {
            row["_id"]: row for row in await db.store_state.find({}).to_list(None)
        }
        cursors = {
            (row["store_id"], row["entity"]): int(row.get("revision", 0))
            async for row in db.cursors.find({})
            if "store_id" in row and "entity" in row
        }
        committed = {entity: 0 for entity in ENTITIES}
        async for row in db.revisions.find({}):
            committed[row["_id"]] = int(row.get("committed", 0))
        # NOTE: only the newest runs are read, so run counts by status cover
        # at most this many runs.
        runs = (
            await db.runs.find({}).sort("started_at", -1).limit(_MAX_RUNS).to_list(None)
        )
        groups = {row["_id"]: row for row in await db[GROUPS].find({}).to_list(None)}
    return RepositorySnapshot(stores, states, cursors, committed, runs, groups)
