"""The ``retail-hub store`` commands: register, list and operate stores.

Every command prints text for people by default and JSON with ``--json``.
Secrets (the API token and the broker password) are printed only by ``add``
of a new store and by ``rotate-token``, because the hub keeps no copy it
could show again.
"""

import argparse
import json
from collections.abc import Callable
from typing import Any

from contracts import InvalidNameError, validate_name
from hub.audit import current_actor
from hub.cli_delivery import (
    STORE_DELIVERY_ACTIONS,
    add_store_delivery_commands,
    run_store_delivery_command,
)
from hub.credentials import StoreSecrets
from hub.runtime import open_broker, open_repository
from hub.settings import Settings
from hub.store_admin import remove_store, rotate_store_token, update_store
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


def _store_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    help_text: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "store_id",
        metavar="ID",
        type=name_argument("store"),
        help="store id: 1 to 64 letters, digits, - and _",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def add_store_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add the ``store`` command and its subcommands to ``commands``."""
    store = commands.add_parser("store", help="register, list and operate stores")
    store_commands = store.add_subparsers(dest="action", required=True)
    add_store_delivery_commands(store_commands)

    add = _store_parser(
        store_commands,
        "add",
        "register a store: its queues, broker user and API token (safe to repeat)",
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

    listing = store_commands.add_parser("list", help="list registered stores")
    listing.add_argument("--json", action="store_true", help="print JSON")

    _store_parser(store_commands, "show", "show one registered store")

    update = _store_parser(
        store_commands,
        "update",
        "change a store; new groups rebind its queues and make it pull again",
    )
    update.add_argument("--name", help="new store name")
    groups = update.add_mutually_exclusive_group()
    groups.add_argument(
        "--group",
        action="append",
        dest="groups",
        type=name_argument("group"),
        help="a group of the store (repeatable); replaces all current groups",
    )
    groups.add_argument(
        "--no-groups", action="store_true", help="remove the store from every group"
    )
    update.add_argument(
        "--transport", choices=["amqp", "pull"], help="how the store receives data"
    )

    rotate = _store_parser(
        store_commands,
        "rotate-token",
        "give a store a new API token; the old one stops working at once",
    )
    rotate.add_argument(
        "--broker-password",
        action="store_true",
        help="set a new password of the store's broker user too",
    )

    _store_parser(
        store_commands,
        "remove",
        "delete a store with its queues, messages, broker user and token",
    )


async def run_store_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run a parsed ``store`` subcommand; return the exit code.

    Raises HubError subclasses (unknown store, conflicting registration,
    management API failure) for the caller to print.
    """
    if args.action in STORE_DELIVERY_ACTIONS:
        return await run_store_delivery_command(settings, args)
    actor = current_actor()
    async with open_repository(settings) as repository:
        registry = StoreRegistry(repository)
        if args.action == "list":
            _print_list(await registry.list(), args.json)
            return 0
        if args.action == "show":
            row = await registry.row(args.store_id)
            record = await registry.get(args.store_id)
            extra = {"broker_user": row.get("broker_user")}
            _print_store(record, args.json, extra=extra)
            return 0
        if args.action == "rotate-token":
            secrets = await rotate_store_token(
                registry,
                args.store_id,
                settings,
                broker_password=args.broker_password,
                actor=actor,
            )
            _print_secrets(args.store_id, "API token rotated", secrets, args.json)
            return 0

        async with open_broker(settings) as broker:
            if args.action == "add":
                record = StoreRecord(
                    store_id=args.store_id,
                    name=args.name,
                    groups=args.groups,
                    transport=args.transport,
                )
                registration = await registry.register(
                    record, broker.channel, broker.exchange, settings, actor=actor
                )
                _print_registration(registration.record, registration.secrets, args)
            elif args.action == "update":
                groups = [] if args.no_groups else args.groups
                updated = await update_store(
                    registry,
                    args.store_id,
                    broker.channel,
                    broker.exchange,
                    settings,
                    name=args.name,
                    groups=groups,
                    transport=args.transport,
                    actor=actor,
                )
                _print_store(updated, args.json, title="updated")
            elif args.action == "remove":
                await remove_store(
                    registry, args.store_id, broker.channel, settings, actor=actor
                )
                if args.json:
                    print(json.dumps({"store_id": args.store_id, "removed": True}))
                else:
                    print(f"store {args.store_id} removed")
    return 0


def _print_list(stores: list[StoreRecord], as_json: bool) -> None:
    if as_json:
        print(json.dumps([s.model_dump(mode="json") for s in stores], indent=2))
        return
    for s in stores:
        groups = ",".join(s.groups) or "-"
        print(f"{s.store_id:<20} {s.transport:<5} {groups:<20} {s.name}")


def _print_store(
    record: StoreRecord,
    as_json: bool,
    *,
    title: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    body = {**record.model_dump(mode="json"), **(extra or {})}
    if as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return
    if title:
        print(f"store {record.store_id} {title}")
    for key, value in body.items():
        shown = ",".join(value) if isinstance(value, list) else value
        print(f"{key + ':':<13} {shown}")


def _print_registration(
    record: StoreRecord, secrets: StoreSecrets | None, args: argparse.Namespace
) -> None:
    status = "registered" if secrets is not None else "already registered"
    if args.json:
        body: dict[str, Any] = {**record.model_dump(mode="json"), "status": status}
        if secrets is not None:
            body.update(_secrets_json(secrets))
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return
    if secrets is None:
        print(
            f"store {record.store_id} already registered; nothing changed, and its"
            " API token and broker password stay valid"
        )
        return
    _print_secrets(record.store_id, "registered", secrets, as_json=False)


def _secrets_json(secrets: StoreSecrets) -> dict[str, str]:
    body = {
        "api_token": secrets.api_token,
        "broker_user": secrets.broker_user,
        "broker_password": secrets.broker_password,
    }
    return {key: value for key, value in body.items() if value is not None}


def _print_secrets(
    store_id: str, title: str, secrets: StoreSecrets, as_json: bool
) -> None:
    if as_json:
        print(json.dumps({"store_id": store_id, **_secrets_json(secrets)}, indent=2))
        return
    print(f"store {store_id} {title}; save these now, they are not shown again:")
    for key, value in _secrets_json(secrets).items():
        print(f"  {key}: {value}")
