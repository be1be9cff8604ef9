"""Command line of the store agent: ``retail-hub-agent run`` and ``status``.

Options override the ``RETAIL_HUB_AGENT_*`` environment variables. Exit
codes: 0 after a normal run or stop, 1 when the agent fails at run time, 2
for invalid arguments or settings.
"""

import argparse
import asyncio
import json
import logging
import signal
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from pydantic import ValidationError

from contracts import InvalidNameError, validate_name
from store_agent.agent import StoreAgent
from store_agent.local_store import LocalStore
from store_agent.settings import AgentSettings

__all__ = ["main"]

logger = logging.getLogger(__name__)

_ENV_PREFIX = AgentSettings.model_config.get("env_prefix", "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    options = vars(args)
    command = options.pop("command")
    log_level = options.pop("log_level", "INFO")
    as_json = options.pop("json", False)

    try:
        settings = AgentSettings(**options)
    except ValidationError as error:
        parser.error(_describe_settings_error(error))

    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if command == "status":
        return _print_status(settings, as_json)
    return asyncio.run(_run_agent(settings))


def _store_id(value: str) -> str:
    try:
        return validate_name("store", value)
    except InvalidNameError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _build_parser() -> argparse.ArgumentParser:
    # SUPPRESS leaves options that were not given out of the namespace, so
    # only given options override the environment.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--store-id",
        dest="store_id",
        type=_store_id,
        help=f"Id of the store, as in its queue names ({_ENV_PREFIX}STORE_ID).",
    )
    common.add_argument(
        "--database",
        help="SQLite file of the local copy (default ./store-<store id>.sqlite3).",
    )
    common.add_argument(
        "--entity",
        dest="entities",
        action="append",
        metavar="NAME",
        help="Entity the store receives; repeat for several (default: items).",
    )
    common.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Minimum level of the log lines written to stderr (default INFO).",
    )

    parser = argparse.ArgumentParser(
        prog="retail-hub-agent",
        description=(
            "Keep a retail store's local SQLite copy of master data in step with"
            f" the retail-hub. Options override {_ENV_PREFIX}* environment variables."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        parents=[common],
        argument_default=argparse.SUPPRESS,
        help="Receive changes until stopped (SIGTERM or Ctrl+C).",
        description="Receive changes into the local copy until SIGTERM or Ctrl+C.",
    )
    _add_run_options(run)

    status = commands.add_parser(
        "status",
        parents=[common],
        help="Print documents, tombstones, applied revision and digest per entity.",
        description="Print live documents, tombstones, applied revision and digest"
        " per entity.",
    )
    status.add_argument(
        "--json", action="store_true", help="Print one JSON object instead of a table."
    )
    return parser


def _add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--mode",
        choices=["amqp", "pull"],
        help="amqp: consume the store's RabbitMQ queues (default); pull: poll the hub.",
    )
    run.add_argument(
        "--hub-url",
        dest="hub_url",
        metavar="URL",
        help=(
            "Base URL of the hub's pull API (default http://127.0.0.1:8080). In amqp"
            " mode an empty value skips the catch-up pull at start."
        ),
    )
    run.add_argument(
        "--token",
        metavar="TOKEN",
        help=(
            "The store's API token for the pull API; prefer the environment"
            f" variable {_ENV_PREFIX}TOKEN, which other users cannot see in ps."
        ),
    )
    run.add_argument(
        "--amqp-url",
        dest="amqp_url",
        metavar="URL",
        help="RabbitMQ URL (default amqp://guest:guest@127.0.0.1:5672/).",
    )
    run.add_argument(
        "--pull-interval",
        dest="pull_interval_seconds",
        type=float,
        metavar="SECONDS",
        help="Seconds between two pulls in pull mode (default 30).",
    )
    run.add_argument(
        "--page-size",
        dest="page_size",
        type=int,
        metavar="N",
        help="Documents per pull request, 1 to 5000 (default 500).",
    )
    run.add_argument(
        "--prefetch",
        type=int,
        metavar="N",
        help="Unacknowledged messages per queue, 1 to 1000 (default 8).",
    )


def _describe_settings_error(error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or "settings"
        if detail["type"] == "missing":
            problems.append(
                f"missing {field}: pass --{field.replace('_', '-')} or set"
                f" {_ENV_PREFIX}{field.upper()}"
            )
        else:
            problems.append(f"invalid {field} {detail.get('input')!r}: {detail['msg']}")
    return "; ".join(problems)


def _print_status(settings: AgentSettings, as_json: bool) -> int:
    path = settings.database_path
    if not path.exists():
        print(
            f"retail-hub-agent: no local copy at {path}: run the agent first or"
            " pass --database",
            file=sys.stderr,
        )
        return 1

    with LocalStore(path) as store:
        entities = sorted({*settings.entities, *store.entities()})
        statuses = [store.status(entity) for entity in entities]
        digests = {entity: store.digest(entity) for entity in entities}

    if as_json:
        report: dict[str, Any] = {
            "store_id": settings.store_id,
            "database": str(path),
            "entities": {
                status.entity: {
                    "documents": status.documents,
                    "tombstones": status.tombstones,
                    "applied_revision": status.applied_revision,
                    "digest": digests[status.entity].sha256,
                }
                for status in statuses
            },
        }
        print(json.dumps(report, indent=2))
        return 0

    print(f"store {settings.store_id}, database {path}")
    print(
        f"{'entity':<16} {'documents':>10} {'tombstones':>10} {'revision':>10}"
        "  digest (compare with the hub's GET .../digest/<entity>)"
    )
    for status in statuses:
        print(
            f"{status.entity:<16} {status.documents:>10} {status.tombstones:>10}"
            f" {status.applied_revision:>10}  {digests[status.entity].sha256}"
        )
    return 0


def _request_stop(agent: StoreAgent, signal_number: int) -> None:
    logger.info(
        "store agent %s received %s; stopping",
        agent.settings.store_id,
        signal.Signals(signal_number).name,
    )
    agent.request_stop()


async def _run_agent(settings: AgentSettings) -> int:
    agent = StoreAgent(settings)
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, _request_stop, agent, signal_number)

    try:
        await agent.run()
    except (*CONNECTION_EXCEPTIONS, sqlite3.Error) as error:
        logger.error(
            "store agent %s failed: %s: %s",
            settings.store_id,
            type(error).__name__,
            error,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
