"""The ``retail-hub connector`` subcommands: run, schedule, runs, quarantine."""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from connectors.config import load_config
from connectors.errors import LeaseHeldError
from connectors.odata import ODataClient
from connectors.scheduler import RunCoordinator, run_schedule
from contracts import ENTITIES
from hub.cli_delivery import count_argument
from hub.connector_runs import run_and_publish
from hub.repository import Repository, translate_unavailable
from hub.runtime import open_broker, open_repository
from hub.settings import Settings

__all__ = ["add_connector_commands", "run_connector_command"]

_LIST_LIMIT = 20


def add_connector_commands(commands: Any) -> None:
    """Add the ``connector`` command and its subcommands to ``commands``."""
    connector = commands.add_parser("connector", help="run and inspect connectors")
    actions = connector.add_subparsers(dest="action", required=True)
    run = actions.add_parser(
        "run",
        help="read ENTITY's full data set from the ERP, store and publish changes",
    )
    run.add_argument("entity", choices=sorted(ENTITIES), help="entity to run")
    run.add_argument(
        "--no-publish",
        action="store_true",
        help="write to the repository only; `retail-hub publish` sends it later",
    )

    schedule = actions.add_parser(
        "schedule",
        help="run every configured entity on its interval until interrupted",
    )
    schedule.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C or SIGTERM)",
    )

    runs = actions.add_parser("runs", help="list recent connector runs, newest first")
    runs.add_argument("--entity", choices=sorted(ENTITIES), help="only this entity")
    runs.add_argument(
        "--limit", type=count_argument, default=_LIST_LIMIT, help="rows to show"
    )
    runs.add_argument("--json", action="store_true", help="print JSON")

    quarantine = actions.add_parser(
        "quarantine", help="list ERP records that failed mapping, newest first"
    )
    quarantine.add_argument("entity", choices=sorted(ENTITIES))
    quarantine.add_argument(
        "--limit", type=count_argument, default=_LIST_LIMIT, help="rows to show"
    )
    quarantine.add_argument("--json", action="store_true", help="print JSON")


async def run_connector_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run one ``connector`` subcommand; return the exit code.

    Raises the connectors' and the repository's errors for ``main`` to report.
    """
    async with open_repository(settings) as repository:
        if args.action == "run":
            return await _run(settings, repository, args)
        if args.action == "schedule":
            return await _schedule(settings, repository, args.duration)
        if args.action == "runs":
            return await _list_runs(repository, args)
        return await _list_quarantine(repository, args)


def _progress_printer() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(resource: str, pages: int, rows: int) -> None:
        print(
            f"\r{resource}: {pages} pages, {rows} records read",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return show


async def _run(
    settings: Settings, repository: Repository, args: argparse.Namespace
) -> int:
    progress = _progress_printer()
    erp = ODataClient.from_settings(settings, load_config().erp, progress)
    try:
        if args.no_publish:
            report, sent = await run_and_publish(
                settings, repository, erp, args.entity, None
            )
        else:
            async with open_broker(settings) as broker:
                report, sent = await run_and_publish(
                    settings, repository, erp, args.entity, broker
                )
    finally:
        await erp.close()
        if progress is not None:
            print(file=sys.stderr)
    print(
        f"{args.entity}: read {report.records_read} in {report.pages_read} pages, "
        f"written {report.written}, unchanged {report.unchanged}, "
        f"deleted {report.deleted}, quarantined {report.quarantined}, "
        f"revision {report.committed_revision} ({report.duration_seconds:.1f}s)"
    )
    if sent is not None:
        print(
            f"{args.entity}: published {sent.documents} documents in "
            f"{sent.messages} messages, watermark {sent.watermark}"
        )
    return 0


async def _schedule(
    settings: Settings, repository: Repository, duration: float | None
) -> int:
    config = load_config()
    erp = ODataClient.from_settings(settings, config.erp)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_broker(settings) as broker:

            async def run(entity: str) -> None:
                with contextlib.suppress(LeaseHeldError):
                    await run_and_publish(settings, repository, erp, entity, broker)

            coordinator = RunCoordinator(run)
            intervals = {
                name: entity.interval_seconds
                for name, entity in config.entities.items()
            }
            try:
                await run_schedule(
                    coordinator, intervals, stop, duration_seconds=duration
                )
            finally:
                await coordinator.close()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await erp.close()
    return 0


async def _list_runs(repository: Repository, args: argparse.Namespace) -> int:
    runs = await repository.recent_runs(args.entity, limit=args.limit)
    if args.json:
        print(json.dumps(runs, default=str, ensure_ascii=False, indent=2))
        return 0
    print(
        "started                   entity       status         pages   read  "
        "written deleted published  error"
    )
    for run in runs:
        published = "-" if run.get("published") is None else run["published"]
        print(
            f"{str(run['started_at'])[:25]:<25} {run['entity']:<12} "
            f"{run['status']:<14} {run.get('pages_read', 0):>5} "
            f"{run['records_read']:>6} {run['written']:>7} {run['deleted']:>7} "
            f"{published:>9}  {run.get('error') or ''}"
        )
    return 0


async def _list_quarantine(repository: Repository, args: argparse.Namespace) -> int:
    cursor = (
        repository.db.quarantine.find({"entity": args.entity}, {"_id": 0})
        .sort("at", -1)
        .limit(args.limit)
    )
    async with translate_unavailable("reading quarantined records"):
        rows = await cursor.to_list(args.limit)
    if args.json:
        print(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        print(f"{row['at']} run {row['run_id']} key {row['key']}: {row['reason']}")
    if not rows:
        print(f"no quarantined records of {args.entity}")
    return 0
