"""The ``retail-hub monitor`` commands: run the monitor and set its thresholds.

``monitor run`` serves the monitor's app (metrics, health, dashboard) with
the checks running inside it. ``thresholds set`` writes a group's document in
``monitor_groups``; ``hours set`` writes a store's opening hours into its
store document.
"""

import argparse
import json
import math
import sys
from typing import Any

import uvicorn
from pydantic import ValidationError

from hub.audit import current_actor, write_audit
from hub.cli_delivery import port_argument
from hub.cli_store import name_argument
from hub.repository import translate_unavailable
from hub.runtime import open_repository
from hub.settings import Settings
from hub.stores import StoreRegistry
from monitor.settings import MonitorSettings
from monitor.thresholds import GROUPS, THRESHOLD_FIELDS, parse_clock, validate_timezone

__all__ = ["add_monitor_commands", "run_monitor_command"]

EXIT_USAGE = 2


def _checked(parse: Any) -> Any:
    """Wrap a ValueError-raising parser as an argparse type."""

    def check(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


def _seconds(value: str) -> float:
    message = f"invalid seconds {value!r}: use a number above 0"
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(message) from None
    # NaN fails every comparison, so the range check rejects it too.
    if not 0 < seconds < math.inf:
        raise ValueError(message)
    return seconds


def _revisions(value: str) -> int:
    message = f"invalid revisions {value!r}: use a whole number, 0 or more"
    try:
        revisions = int(value)
    except ValueError:
        raise ValueError(message) from None
    if revisions < 0:
        raise ValueError(message)
    return revisions


def _clock(value: str) -> str:
    parse_clock(value)
    return value


def add_monitor_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add the ``monitor`` command and its subcommands to ``commands``."""
    monitor = commands.add_parser("monitor", help="watch delivery to every store")
    actions = monitor.add_subparsers(dest="action", required=True)

    run = actions.add_parser(
        "run", help="check every store on an interval and serve /metrics"
    )
    run.add_argument("--host", help="address to bind (default RETAIL_HUB_MONITOR_HOST)")
    run.add_argument(
        "--port", type=port_argument, help="port (default RETAIL_HUB_MONITOR_PORT)"
    )

    thresholds = actions.add_parser("thresholds", help="thresholds of store groups")
    threshold_actions = thresholds.add_subparsers(
        dest="threshold_action", required=True
    )
    set_thresholds = threshold_actions.add_parser(
        "set", help="set a group's thresholds; options left out keep their value"
    )
    set_thresholds.add_argument("group", type=name_argument("group"), metavar="GROUP")
    set_thresholds.add_argument(
        "--silent-after",
        type=_checked(_seconds),
        help="seconds without contact after which a store is SILENT",
    )
    set_thresholds.add_argument(
        "--lag-revisions",
        type=_checked(_revisions),
        help="revisions behind above which a store is LAGGING",
    )
    set_thresholds.add_argument(
        "--lag-seconds",
        type=_checked(_seconds),
        help="seconds behind above which a store is LAGGING",
    )
    threshold_actions.add_parser("list", help="list every group's thresholds")

    hours = actions.add_parser("hours", help="opening hours of stores")
    hour_actions = hours.add_subparsers(dest="hours_action", required=True)
    set_hours = hour_actions.add_parser(
        "set", help="set a store's opening hours; a closed store is never SILENT"
    )
    set_hours.add_argument("store_id", type=name_argument("store"), metavar="STORE")
    set_hours.add_argument(
        "--timezone",
        required=True,
        type=_checked(validate_timezone),
        help="IANA time zone of the store, such as Europe/Moscow",
    )
    set_hours.add_argument(
        "--opens", required=True, type=_checked(_clock), help="opening time, HH:MM"
    )
    set_hours.add_argument(
        "--closes",
        required=True,
        type=_checked(_clock),
        help="closing time, HH:MM; before --opens means after midnight",
    )
    for parser in (set_thresholds, set_hours):
        parser.add_argument("--json", action="store_true", help="print JSON")


async def run_monitor_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run a parsed ``monitor`` subcommand; return the exit code."""
    if args.action == "run":
        return await _run(args)
    async with open_repository(settings) as repository:
        if args.action == "thresholds" and args.threshold_action == "list":
            async with translate_unavailable("reading monitor_groups"):
                rows = await repository.db[GROUPS].find({}).sort("_id", 1).to_list(None)
            for row in rows:
                values = {name: row.get(name) for name in THRESHOLD_FIELDS}
                print(json.dumps({"group": row["_id"], **values}))
            return 0
        if args.action == "thresholds":
            values = {
                "silent_after_seconds": args.silent_after,
                "lag_revisions": args.lag_revisions,
                "lag_seconds": args.lag_seconds,
            }
            changed = {name: v for name, v in values.items() if v is not None}
            if not changed:
                print("error: give at least one threshold option", file=sys.stderr)
                return EXIT_USAGE
            async with translate_unavailable(f"writing thresholds of {args.group}"):
                await repository.db[GROUPS].update_one(
                    {"_id": args.group}, {"$set": changed}, upsert=True
                )
            _print({"group": args.group, **changed}, args.json)
            return 0
        registry = StoreRegistry(repository)
        await registry.row(args.store_id)
        hours = {"timezone": args.timezone, "opens": args.opens, "closes": args.closes}
        async with translate_unavailable(f"updating store {args.store_id}"):
            await repository.db.stores.update_one(
                {"_id": args.store_id}, {"$set": hours}
            )
        await write_audit(repository, "hours", args.store_id, current_actor(), hours)
        _print({"store_id": args.store_id, **hours}, args.json)
        return 0


def _print(values: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(values))
    else:
        print(", ".join(f"{name} {value}" for name, value in values.items()))


async def _run(args: argparse.Namespace) -> int:
    from monitor.app import create_monitor_app

    try:
        settings = MonitorSettings()
    except ValidationError as exc:
        for problem in exc.errors():
            name = "RETAIL_HUB_" + str(problem["loc"][0]).upper()
            value = problem.get("input")
            print(f"error: invalid {name}={value!r}: {problem['msg']}", file=sys.stderr)
        return EXIT_USAGE
    config = uvicorn.Config(
        create_monitor_app(settings),
        host=args.host or settings.monitor_host,
        port=args.port or settings.monitor_port,
    )
    await uvicorn.Server(config).serve()
    return 0
