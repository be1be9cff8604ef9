"""Scale benchmark: registering thousands of stores as `retail-hub store add` does.

Each store gets what ``StoreRegistry.register`` makes: a queue per entity
bound to its scopes, a dead-letter queue, a broker user with permissions, an
API token and its store document. The row reports the seconds for all of
them and the broker's memory and object counts before and after. Every
store, queue and user the run made is deleted at the end, also on failure.
"""

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import httpx
from aio_pika.abc import AbstractConnection

from bench.common import BenchResult, Sizes, Stopwatch, bench_settings, unique_name
from contracts import ENTITIES, queue_name
from hub.broker import dead_letter_queue_name, declare_changes_exchange
from hub.credentials import broker_user_name
from hub.repository import Repository
from hub.settings import Settings
from hub.stores import StoreRecord, StoreRegistry

__all__ = ["run_scale"]

logger = logging.getLogger("bench")

# Registrations in flight at once, each on its own AMQP channel. The same
# bound applies to queue deletions at the end.
CONCURRENCY = 8
# Stores belong to one of this many groups (price zones), so each queue has
# three bindings: all stores, its group and the store itself.
GROUPS = 20
# The management plugin refreshes node memory about every 5 s by default
# (collect_statistics_interval), so the run waits this long before reading it.
STATISTICS_WAIT_SECONDS = 6.0
# On a loaded RabbitMQ 3.10.8 with 40,000 queues, a bulk-delete of 500 users
# made the management API close the connection without a response.
USER_DELETE_CHUNK = 50
# RabbitMQ 3.10.8 returns 500 for GET /api/users when a user is deleted
# during the listing, so the listing is tried this many times.
USER_LIST_ATTEMPTS = 5
USER_LIST_RETRY_SECONDS = 2.0
# Registrations stop starting after this many seconds, by mode of the suite.
TIME_LIMIT_SECONDS = {"full": 3600.0, "short": 600.0, "smoke": 60.0}


def _management_client(settings: Settings) -> httpx.AsyncClient:
    # The same credentials as hub.credentials.BrokerAdmin.from_settings.
    amqp = urlsplit(settings.amqp_url)
    user = settings.amqp_management_user or unquote(amqp.username or "guest")
    if settings.amqp_management_password is not None:
        password = settings.amqp_management_password.get_secret_value()
    else:
        password = unquote(amqp.password or "guest")
    return httpx.AsyncClient(
        base_url=settings.amqp_management_url.rstrip("/") + "/api",
        auth=(user, password),
        timeout=60.0,
    )


async def _broker_figures(management: httpx.AsyncClient) -> dict[str, int]:
    """Return the broker's memory, file and process use, and queue and user counts."""
    columns = "mem_used,fd_used,proc_used"
    nodes = (await management.get("/nodes", params={"columns": columns})).json()
    overview = (await management.get("/overview")).json()
    users = await _list_users(management)
    return {
        "mem_used_bytes": sum(int(node["mem_used"]) for node in nodes),
        "file_descriptors": sum(int(node["fd_used"]) for node in nodes),
        "erlang_processes": sum(int(node["proc_used"]) for node in nodes),
        "queues": int(overview["object_totals"]["queues"]),
        "users": len(users),
    }


def _store_record(store_id: str, number: int) -> StoreRecord:
    return StoreRecord(
        store_id=store_id,
        name=f"Bench store {number}",
        groups=[f"zone{number % GROUPS}"],
        transport="amqp",
    )


async def _register_all(
    registry: StoreRegistry,
    connection: AbstractConnection,
    settings: Settings,
    store_ids: list[str],
    attempted: list[str],
    time_limit: float,
    progress: dict[int, float],
) -> None:
    """Register ``store_ids`` with CONCURRENCY registrations in flight.

    Each id goes to ``attempted`` before its registration starts, so the
    cleanup has every name that may exist. ``progress`` gets the seconds
    since the start at every 1000th registration started. After the first
    error, such as
    the TimeoutError after ``time_limit`` seconds, no registration starts,
    and the error is raised once those in flight finish. They are not
    cancelled: in a trial, cancelling them mid-RPC made aiormq close the
    channel and then the whole connection.
    """
    numbered: Iterator[tuple[int, str]] = iter(enumerate(store_ids))
    started = time.monotonic()
    deadline = started + time_limit
    failed = asyncio.Event()

    async def worker() -> None:
        channel = await connection.channel()
        exchange = await declare_changes_exchange(channel, settings.exchange)
        try:
            for number, store_id in numbered:
                if failed.is_set():
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"started only {len(attempted)} of {len(store_ids)}"
                        f" registrations in {time_limit:.0f} s; seconds by"
                        f" registrations started: {progress}"
                    )
                attempted.append(store_id)
                await registry.register(
                    _store_record(store_id, number),
                    channel,
                    exchange,
                    settings,
                    actor="bench",
                )
                if len(attempted) % 1000 == 0:
                    progress[len(attempted)] = round(time.monotonic() - started, 1)
                    logger.info("scale: %d registrations started", len(attempted))
        except Exception:
            failed.set()
            raise
        finally:
            if not channel.is_closed:
                await channel.close()

    outcomes = await asyncio.gather(
        *(worker() for _ in range(CONCURRENCY)), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _delete_queues(connection: AbstractConnection, names: list[str]) -> None:
    """Delete the queues ``names``, CONCURRENCY at a time.

    A worker that fails is logged and the others go on, so that the leftover
    count of the cleanup shows what stayed.
    """
    # Deleting a queue that does not exist succeeds in RabbitMQ 3.x.
    pending = iter(names)

    async def worker() -> None:
        channel = await connection.channel()
        try:
            for name in pending:
                await channel.queue_delete(name)
        finally:
            if not channel.is_closed:
                await channel.close()

    outcomes = await asyncio.gather(
        *(worker() for _ in range(CONCURRENCY)), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            logger.warning("scale: deleting queues failed: %r", outcome)


async def _list_users(management: httpx.AsyncClient) -> list[str]:
    """Return the names of every broker user, trying up to USER_LIST_ATTEMPTS times."""
    for attempt in range(1, USER_LIST_ATTEMPTS + 1):
        response = await management.get("/users", params={"columns": "name"})
        if response.status_code == httpx.codes.OK:
            return [user["name"] for user in response.json()]
        logger.warning(
            "scale: listing broker users failed with %d (attempt %d of %d)",
            response.status_code,
            attempt,
            USER_LIST_ATTEMPTS,
        )
        await asyncio.sleep(USER_LIST_RETRY_SECONDS)
    response.raise_for_status()
    return []


async def _delete_users(management: httpx.AsyncClient, prefix: str) -> int:
    """Delete every broker user whose name starts with ``prefix``; return the count.

    bulk-delete stops at the first user that does not exist, so only
    listed users are sent.
    """
    listed = await _list_users(management)
    users = [name for name in listed if name.startswith(prefix)]
    for start in range(0, len(users), USER_DELETE_CHUNK):
        response = await management.post(
            "/users/bulk-delete",
            json={"users": users[start : start + USER_DELETE_CHUNK]},
        )
        response.raise_for_status()
    return len(users)


async def _leftover_queues(
    management: httpx.AsyncClient, settings: Settings, prefix: str
) -> list[str]:
    vhost = unquote(urlsplit(settings.amqp_url).path[1:]) or "/"
    response = await management.get(
        f"/queues/{quote(vhost, safe='')}",
        params={
            "name": f"^store\\.{prefix}",
            "use_regex": "true",
            "columns": "name",
            "page": "1",
            "page_size": "500",
        },
    )
    response.raise_for_status()
    return [item["name"] for item in response.json().get("items", [])]


async def _remove_all(
    repository: Repository,
    management: httpx.AsyncClient,
    settings: Settings,
    prefix: str,
    attempted: list[str],
) -> dict[str, int]:
    """Delete the users, queues, exchanges and database of the run.

    Uses a connection of its own, so a registration that broke the run's
    connection does not stop the cleanup. Returns the counts deleted and the
    queues and users still left, which should be zero.
    """
    try:
        users = await _delete_users(management, broker_user_name(prefix))
        queues = [
            name
            for store_id in attempted
            for name in (
                *(queue_name(store_id, entity) for entity in ENTITIES),
                dead_letter_queue_name(store_id),
            )
        ]
        connection = await aio_pika.connect(
            settings.amqp_url,
            timeout=10,
            client_properties={"connection_name": "retail-hub bench scale cleanup"},
        )
        async with connection:
            await _delete_queues(connection, queues)
            channel = await connection.channel()
            for exchange in (settings.exchange, settings.dead_letter_exchange):
                await channel.exchange_delete(exchange)

            leftover_queues = await _leftover_queues(management, settings, prefix)
            await _delete_queues(connection, leftover_queues)
        leftover_users = await _delete_users(management, broker_user_name(prefix))
    finally:
        await repository.client.drop_database(settings.mongo_database)

    if leftover_queues or leftover_users:
        logger.warning(
            "scale: deleted %d queues and %d users left after the first pass",
            len(leftover_queues),
            leftover_users,
        )
    return {
        "users_deleted": users + leftover_users,
        "queue_names_deleted": len(queues),
        "leftover_queues": len(leftover_queues),
        "leftover_users": leftover_users,
    }


async def _log_broker_figures(management: httpx.AsyncClient, started: int) -> None:
    # A failed run reports no details, so the broker's state goes to the log
    # for comparison with complete runs. The cleanup runs after this either way.
    try:
        figures = await _broker_figures(management)
    except (httpx.HTTPError, ValueError, KeyError) as error:
        logger.warning("scale: reading the broker's figures failed: %r", error)
        return
    logger.info("scale: broker after %d registrations started: %s", started, figures)


async def run_scale(sizes: Sizes) -> BenchResult:
    """Time the registration of N stores; report seconds and broker memory."""
    settings = bench_settings("scale")
    # Store ids are at most 64 characters, and this prefix keeps them short.
    prefix = f"bscale{unique_name('')[:6]}-"
    store_ids = [f"{prefix}{number:05}" for number in range(sizes.scale_stores)]
    attempted: list[str] = []
    progress: dict[int, float] = {}
    details: dict[str, Any] = {
        "stores": len(store_ids),
        "concurrency": CONCURRENCY,
        "seconds_by_registrations_started": progress,
    }

    repository = Repository.from_settings(settings)
    management = _management_client(settings)
    connection = await aio_pika.connect(
        settings.amqp_url,
        timeout=10,
        client_properties={"connection_name": "retail-hub bench scale"},
    )
    try:
        await repository.ensure_indexes()
        details["before"] = await _broker_figures(management)
        with Stopwatch() as registering:
            await _register_all(
                StoreRegistry(repository),
                connection,
                settings,
                store_ids,
                attempted,
                TIME_LIMIT_SECONDS[sizes.name],
                progress,
            )
        logger.info(
            "scale: registered %d stores in %.1fs",
            len(store_ids),
            registering.seconds,
        )
        await asyncio.sleep(STATISTICS_WAIT_SECONDS)
        details["after"] = await _broker_figures(management)
    finally:
        if "after" not in details:
            await _log_broker_figures(management, len(attempted))
        try:
            with Stopwatch() as removing:
                details["cleanup"] = await _remove_all(
                    repository, management, settings, prefix, attempted
                )
            logger.info(
                "scale: removed %d stores in %.1fs", len(attempted), removing.seconds
            )
        finally:
            await connection.close()
            await management.aclose()
            await repository.close()

    details["register_seconds"] = registering.seconds
    details["stores_per_second"] = len(store_ids) / registering.seconds
    details["remove_seconds"] = removing.seconds
    details["mem_used_growth_bytes"] = (
        details["after"]["mem_used_bytes"] - details["before"]["mem_used_bytes"]
    )
    return BenchResult(
        name="scale",
        path=f"StoreRegistry.register of {len(store_ids):,} stores, "
        f"{CONCURRENCY} at a time",
        unit="seconds",
        ours=registering.seconds,
        details=details,
    )
