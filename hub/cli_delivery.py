"""Delivery commands: the publisher loop, replays and dead letters.

``retail-hub publisher run`` publishes on an interval until stopped.
``retail-hub store replay`` makes a store read an entity again from a
revision. ``retail-hub store dead-letters`` lists, retries or discards the
messages a store's queues dead-lettered.
"""

import argparse
import asyncio
import json
import logging
import signal
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from contracts import InvalidNameError, get_entity, validate_name
from hub.broker import dead_letter_queue_name
from hub.delivery import DeliveryState
from hub.publisher_loop import PublisherLoop
from hub.runtime import open_broker, open_repository
from hub.settings import Settings
from hub.stores import StoreRegistry

__all__ = [
    "STORE_DELIVERY_ACTIONS",
    "add_delivery_commands",
    "add_store_delivery_commands",
    "count_argument",
    "port_argument",
    "run_delivery_command",
    "run_store_delivery_command",
]

logger = logging.getLogger(__name__)

STORE_DELIVERY_ACTIONS = frozenset({"replay", "dead-letters"})


def _store_id(value: str) -> str:
    try:
        return validate_name("store", value)
    except InvalidNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def count_argument(value: str) -> int:
    """Parse a number of rows or messages to handle: a whole number, at least 1."""
    message = f"invalid count {value!r}: use a whole number of at least 1"
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if count < 1:
        raise argparse.ArgumentTypeError(message)
    return count


def port_argument(value: str) -> int:
    """Parse a TCP port to bind: 0 (any free port) to 65535."""
    message = f"invalid port {value!r}: use 0 to 65535"
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(message)
    return port


def add_delivery_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add the ``publisher`` command to the top-level ``commands``."""
    publisher = commands.add_parser("publisher", help="run the publisher loop")
    actions = publisher.add_subparsers(dest="action", required=True)
    run = actions.add_parser(
        "run",
        help="publish every entity on an interval until SIGTERM or Ctrl+C,"
        " reconnecting while the broker is down",
    )
    run.add_argument(
        "entities", nargs="*", metavar="ENTITY", help="entities (default: all)"
    )
    run.add_argument(
        "--interval",
        type=_positive_seconds,
        metavar="SECONDS",
        help="seconds between cycles (default: RETAIL_HUB_PUBLISH_INTERVAL_SECONDS)",
    )


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds {value!r}"
        ) from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(
            f"invalid interval {value!r}: use a number of seconds above 0"
        )
    return seconds


def add_store_delivery_commands(
    store_commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add ``replay`` and ``dead-letters`` to the ``store`` subcommands."""
    replay = store_commands.add_parser(
        "replay", help="make a store read an entity again after a revision"
    )
    replay.add_argument("store_id", metavar="ID", type=_store_id, help="store id")
    replay.add_argument("--entity", required=True, help="entity to read again")
    replay.add_argument(
        "--from",
        dest="revision",
        type=int,
        required=True,
        metavar="REV",
        help="the store reads every change after this revision (0: everything)",
    )

    dead = store_commands.add_parser(
        "dead-letters", help="list, retry or discard a store's dead-lettered messages"
    )
    dead.add_argument("store_id", metavar="ID", type=_store_id, help="store id")
    what = dead.add_mutually_exclusive_group()
    what.add_argument(
        "--retry", action="store_true", help="move them back to their store queue"
    )
    what.add_argument("--discard", action="store_true", help="delete them")
    dead.add_argument("--json", action="store_true", help="print JSON")
    dead.add_argument(
        "--limit",
        type=count_argument,
        default=1000,
        metavar="N",
        help="handle at most N messages (default 1000)",
    )


async def run_delivery_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``publisher run``; return the exit code."""
    if args.interval is not None:
        settings = settings.model_copy(
            update={"publish_interval_seconds": args.interval}
        )
    for entity in args.entities:
        get_entity(entity)
    async with open_repository(settings) as repository:
        loop = PublisherLoop(settings, repository, args.entities or None)
        running = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(signal_number, loop.request_stop)
        await loop.run()
    return 0


async def run_store_delivery_command(
    settings: Settings, args: argparse.Namespace
) -> int:
    """Run ``store replay`` or ``store dead-letters``; return the exit code."""
    async with open_repository(settings) as repository:
        store = await StoreRegistry(repository).get(args.store_id)
        if args.action == "replay":
            return await _replay(DeliveryState(repository), store.store_id, args)
    return await _dead_letters(settings, store.store_id, args)


async def _replay(
    delivery: DeliveryState, store_id: str, args: argparse.Namespace
) -> int:
    get_entity(args.entity)
    committed = await delivery.repository.committed_revision(args.entity)
    if not 0 <= args.revision <= committed:
        print(
            f"error: invalid --from {args.revision}: use 0 to the committed"
            f" revision {committed} of {args.entity}"
        )
        return 2
    await delivery.set_cursor(store_id, args.entity, args.revision)
    await delivery.request_replay(store_id, args.entity, args.revision)
    logger.info(
        "store %s: replay of %s from revision %d requested",
        store_id,
        args.entity,
        args.revision,
    )
    print(
        f"store {store_id}: cursor of {args.entity} set to {args.revision}; its"
        " agent pulls again from there at its next heartbeat"
    )
    return 0


async def _dead_letters(
    settings: Settings, store_id: str, args: argparse.Namespace
) -> int:
    name = dead_letter_queue_name(store_id)
    async with open_broker(settings) as broker:
        try:
            queue = await broker.channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            print(f"error: queue {name} not found; run `retail-hub store add` again")
            return 1
        taken: list[AbstractIncomingMessage] = []
        for _ in range(max(args.limit, 0)):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            taken.append(message)
        rows = [_describe(message) for message in taken]
        reasons = await _agent_reasons(settings, store_id, rows)
        for row in rows:
            row["agent_reason"] = reasons.get(row["message_id"], "")

        for message, row in zip(taken, rows, strict=True):
            if args.retry:
                await broker.channel.default_exchange.publish(
                    aio_pika.Message(
                        message.body,
                        headers=dict(message.headers),
                        message_id=message.message_id,
                        content_type=message.content_type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=row["queue"],
                )
                await message.ack()
            elif args.discard:
                await message.ack()
            else:
                await message.nack(requeue=True)

    action = "listed"
    if args.retry:
        action = "retried"
    elif args.discard:
        action = "discarded"
    if args.retry or args.discard:
        logger.info("store %s: %s %d dead letters", store_id, action, len(rows))
    if args.json:
        print(
            json.dumps(
                {"store_id": store_id, "action": action, "messages": rows}, indent=2
            )
        )
    else:
        for row in rows:
            print(
                f"{row['message_id']:<40} {row['reason']:<10} {row['queue']:<30}"
                f" {row['size']:>8} bytes  {row['agent_reason']}"
            )
        print(f"{len(rows)} messages {action}")
    return 0


async def _agent_reasons(
    settings: Settings, store_id: str, rows: list[dict[str, Any]]
) -> dict[str, str]:
    """Return the reasons the store's agent reported, by message id."""
    ids = [row["message_id"] for row in rows]
    if not ids:
        return {}
    query = {"store_id": store_id, "message_id": {"$in": ids}}
    async with open_repository(settings) as repository:
        found = await repository.db.rejections.find(query).to_list(None)
    return {row["message_id"]: row["reason"] for row in found}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def _describe(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    first = deaths[0] if isinstance(deaths, list) and deaths else {}
    if not isinstance(first, dict):
        first = {}
    return {
        "message_id": message.message_id or "(no message id)",
        "reason": _text(headers.get("x-first-death-reason") or first.get("reason")),
        "queue": _text(headers.get("x-first-death-queue") or first.get("queue")),
        "size": len(message.body),
        "headers": {
            key: _text(value) for key, value in headers.items() if key != "x-death"
        },
    }
