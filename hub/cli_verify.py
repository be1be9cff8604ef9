"""``retail-hub verify``: check that stores hold exactly the hub's documents.

Without ``--database`` the command compares the digest each store's agent
sent with its last heartbeat with the hub's digest of that store's view.
With ``--database PATH`` (and ``--store``) it opens the store's SQLite copy,
narrows a difference down to keys through bucket digests, and with
``--repair`` overwrites exactly those rows. The exit code is 1 while any
store differs, and 0 otherwise; stores that are behind or sent no digest are
listed but do not count as different.
"""

import argparse
import json
from pathlib import Path

from contracts import ENTITIES, get_entity
from contracts.delivery import Digest
from hub.cli_store import name_argument
from hub.delivery import DeliveryState
from hub.runtime import open_repository
from hub.settings import Settings
from hub.stores import StoreRegistry
from hub.verify import VerifyRow, verify_reported, verify_store
from store_agent.local_store import LocalStore

__all__ = ["add_verify_commands", "run_verify_command"]

_COLUMNS = (
    ("store", 12),
    ("entity", 10),
    ("revision", 9),
    ("store/hub", 15),
    ("status", 10),
    ("differing", 9),
    ("hashes", 7),
)


def add_verify_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add the ``verify`` command to the top-level ``commands``."""
    verify = commands.add_parser(
        "verify",
        help="compare stores' copies with the hub's documents",
        description="Compare each store's digest of each entity with the hub's"
        " at the same revision. Exits 1 while any store differs.",
    )
    verify.add_argument(
        "--store", type=name_argument("store"), help="only this store id"
    )
    verify.add_argument("--entity", help="only this entity (default: all)")
    verify.add_argument(
        "--database",
        type=Path,
        metavar="PATH",
        help="the store's SQLite copy (needs --store): narrow a difference"
        " down to keys",
    )
    verify.add_argument(
        "--repair",
        action="store_true",
        help="with --database, overwrite the rows that differ with the hub's",
    )
    verify.add_argument("--json", action="store_true", help="print JSON")


async def run_verify_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``verify``; return the exit code."""
    if args.database is not None and args.store is None:
        print("error: --database needs --store, the id of the store it belongs to")
        return 2
    if args.repair and args.database is None:
        print("error: --repair needs --database, the store's SQLite copy")
        return 2
    if args.database is not None and not args.database.is_file():
        print(f"error: database {args.database} not found")
        return 2
    entities = [get_entity(args.entity).name] if args.entity else sorted(ENTITIES)

    rows: list[VerifyRow] = []
    async with open_repository(settings) as repository:
        registry = StoreRegistry(repository)
        stores = (
            [await registry.get(args.store)] if args.store else await registry.list()
        )
        if args.database is not None:
            with LocalStore(args.database) as local_store:
                for entity in entities:
                    rows.append(
                        await verify_store(
                            repository, stores[0], entity, local_store, args.repair
                        )
                    )
        else:
            states = await DeliveryState(repository).states()
            for store in stores:
                heartbeat = states.get(store.store_id, {}).get("heartbeat", {})
                digests = heartbeat.get("digests", {})
                for entity in entities:
                    reported = digests.get(entity)
                    digest = Digest.model_validate(reported) if reported else None
                    rows.append(
                        await verify_reported(repository, store, entity, digest)
                    )

    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        _print_table(rows)
    return 1 if any(row.differs for row in rows) else 0


def _print_table(rows: list[VerifyRow]) -> None:
    print(" ".join(f"{name:<{width}}" for name, width in _COLUMNS))
    for row in rows:
        store_count = "-" if row.store_count is None else str(row.store_count)
        cells = (
            row.store_id,
            row.entity,
            str(row.revision),
            f"{store_count}/{row.hub_count}",
            row.status,
            str(row.differing),
            str(row.hashes),
        )
        print(
            " ".join(
                f"{cell:<{width}}"
                for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
            )
        )
    differing = sum(row.differs for row in rows)
    print(f"{len(rows)} checked, {differing} differ")
