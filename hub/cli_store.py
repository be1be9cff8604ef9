"""The ``retail-hub store`` commands: register, list and operate stores."""

import argparse
import json
from collections.abc import Callable

from contracts import ENTITIES, InvalidNameError, validate_name
from hub.runtime import open_broker, open_repository
from hub.settings import Settings
from hub.stores import StoreRecord, StoreRegistry

__all__ = ["add_store_commands", "run_store_command"]


def name_argument(kind: str) -> "Callable[[str], str]":
    """Return an argparse type that accepts only valid ids of ``kind``."""

    def parse(value: str) -> str:
        try:
            return validate_name(kind, value)
        except InvalidNameError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_store_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add the ``store`` command and its subcommands to ``commands``."""
    store = commands.add_parser("store", help="register and list stores")
    store_commands = store.add_subparsers(dest="action", required=True)
    add = store_commands.add_parser(
        "add", help="register a store and create its queues (safe to repeat)"
    )
    add.add_argument(
        "store_id",
        metavar="ID",
        type=name_argument("store"),
        help="store id: 1 to 64 letters, digits, - and _",
    )
    add.add_argument("--name", required=True, help="store name shown to support staff")
    add.add_argument(
        "--group",
        action="append",
        default=[],
        dest="groups",
        type=name_argument("group"),
        help="a group of the store, such as its price zone (repeatable)",
    )
    add.add_argument(
        "--transport",
        choices=["amqp", "pull"],
        default="amqp",
        help="how the store receives data (default amqp)",
    )
    add.add_argument("--json", action="store_true", help="print the store as JSON")
    listing = store_commands.add_parser("list", help="list registered stores")
    listing.add_argument("--json", action="store_true", help="print JSON")


async def run_store_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run a parsed ``store`` subcommand; return the exit code."""
    async with open_repository(settings) as repository:
        registry = StoreRegistry(repository)
        if args.action == "list":
            stores = await registry.list()
            if args.json:
                print(json.dumps([s.model_dump(mode="json") for s in stores], indent=2))
            else:
                for s in stores:
                    groups = ",".join(s.groups) or "-"
                    print(f"{s.store_id:<20} {s.transport:<5} {groups:<20} {s.name}")
            return 0

        record = StoreRecord(
            store_id=args.store_id,
            name=args.name,
            groups=args.groups,
            transport=args.transport,
        )
        async with open_broker(settings) as broker:
            stored = await registry.register(
                record, broker.channel, broker.exchange, settings
            )
        if args.json:
            print(stored.model_dump_json(indent=2))
        else:
            print(
                f"store {stored.store_id} registered; queues: "
                + ", ".join(f"store.{stored.store_id}.{entity}" for entity in ENTITIES)
            )
    return 0
