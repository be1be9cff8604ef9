"""The ``retail-hub`` command: run the hub's services and operate it.

Exit codes: 0 success, 1 failure (the message says why), 2 invalid arguments,
3 a connector run skipped because another process runs the same entity.
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

import aio_pika
import uvicorn
from pydantic import ValidationError
from pymongo.errors import ConfigurationError, InvalidName, InvalidURI

from connectors.errors import ConnectorError, LeaseHeldError
from contracts import ENTITIES, InvalidNameError, UnknownEntityError, get_entity
from hub.api import create_app
from hub.cli_connector import add_connector_commands, run_connector_command
from hub.cli_delivery import (
    add_delivery_commands,
    port_argument,
    run_delivery_command,
)
from hub.cli_monitor import add_monitor_commands, run_monitor_command
from hub.cli_store import add_store_commands, run_store_command
from hub.cli_verify import add_verify_commands, run_verify_command
from hub.errors import HubError
from hub.runtime import open_broker, open_repository, publish
from hub.settings import Settings

__all__ = ["main"]

logger = logging.getLogger("retail_hub")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="retail-hub",
        description="Carry master data from a 1C ERP to retail stores. Servers "
        "and names come from RETAIL_HUB_* environment variables "
        "(RETAIL_HUB_MONGO_URL, RETAIL_HUB_AMQP_URL, RETAIL_HUB_ERP_URL, ...).",
        epilog="Exit codes: 0 success, 1 failure, 2 invalid arguments, "
        "3 run skipped because another process holds the entity's lease.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages too"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the HTTP pull API")
    serve.add_argument("--host", help="address to bind (default: RETAIL_HUB_API_HOST)")
    serve.add_argument(
        "--port", type=port_argument, help="port (default: RETAIL_HUB_API_PORT)"
    )

    add_connector_commands(commands)

    publish_parser = commands.add_parser(
        "publish", help="publish committed changes above each entity's watermark"
    )
    publish_parser.add_argument(
        "entities", nargs="*", metavar="ENTITY", help="entities (default: all)"
    )

    add_store_commands(commands)
    add_delivery_commands(commands)
    add_verify_commands(commands)
    add_monitor_commands(commands)

    demo = commands.add_parser(
        "demo", help="run the whole path with a simulated ERP and five stores"
    )
    demo.add_argument(
        "--items",
        type=int,
        default=5000,
        help="items in the simulated ERP (default 5000)",
    )
    demo.add_argument(
        "--stores",
        type=int,
        default=5,
        help="stores to register (default 5, at least 2)",
    )
    return parser


async def _publish(settings: Settings, args: argparse.Namespace) -> int:
    entities = args.entities or sorted(ENTITIES)
    for entity in entities:
        get_entity(entity)
    async with open_repository(settings) as repository, open_broker(settings) as broker:
        for entity in entities:
            sent = await publish(settings, repository, broker, entity)
            print(
                f"{entity}: published {sent.documents} documents in "
                f"{sent.messages} messages, watermark {sent.watermark}"
            )
    return 0


async def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "connector":
        return await run_connector_command(settings, args)
    if args.command == "publish":
        return await _publish(settings, args)
    if args.command == "publisher":
        return await run_delivery_command(settings, args)
    if args.command == "monitor":
        return await run_monitor_command(settings, args)
    if args.command == "store":
        return await run_store_command(settings, args)
    if args.command == "verify":
        return await run_verify_command(settings, args)
    if args.command == "demo":
        from hub.demo import run_demo

        return await run_demo(settings, items=args.items, stores=args.stores)
    raise AssertionError(f"unhandled command {args.command}")


def _without_password(url: str) -> str:
    parsed = urlsplit(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    # The demo prints its own progress; its services log only warnings.
    quiet = logging.WARNING if args.command == "demo" else logging.INFO
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pymongo and aio-pika log every connection step at debug level.
    for noisy in ("pymongo", "aio_pika", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # aiormq logs a failed connection at ERROR; the command prints its own
    # message for that, with the broker's URL and what to check.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)

    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in exc.errors():
            name = "RETAIL_HUB_" + str(problem["loc"][0]).upper()
            value = problem.get("input")
            print(f"error: invalid {name}={value!r}: {problem['msg']}", file=sys.stderr)
        return EXIT_USAGE

    if args.command == "serve":
        app = create_app(settings)
        uvicorn.run(
            app,
            host=args.host or settings.api_host,
            port=args.port or settings.api_port,
        )
        return 0

    try:
        return asyncio.run(_dispatch(settings, args))
    except (InvalidNameError, UnknownEntityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LeaseHeldError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return EXIT_SKIPPED
    except (HubError, ConnectorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (InvalidURI, InvalidName, ConfigurationError) as exc:
        print(
            f"error: invalid repository setting: {exc}; check RETAIL_HUB_MONGO_URL"
            " and RETAIL_HUB_MONGO_DATABASE",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of the output went away, as `retail-hub ... | head` does.
        return EXIT_FAILURE
    except (aio_pika.exceptions.AMQPConnectionError, ConnectionError) as exc:
        broker_url = _without_password(settings.amqp_url)
        print(
            f"error: cannot connect to RabbitMQ at {broker_url} ({exc});"
            " check RETAIL_HUB_AMQP_URL and that the broker runs",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
