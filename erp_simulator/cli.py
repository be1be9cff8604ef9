"""Command line of the ERP simulator: ``retail-hub-erp-simulator``.

Serves a generated catalogue, or the captured responses in a folder, over
1C's OData interface until interrupted.
"""

import argparse
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from erp_simulator.app import create_app
from erp_simulator.catalogue import DEFAULT_ITEMS, DEFAULT_SEED, Catalogue
from erp_simulator.generator import MAX_ITEMS

__all__ = ["build_catalogue", "main", "parse_args"]

logger = logging.getLogger(__name__)

USER_ENV = "RETAIL_HUB_ERP_USER"
PASSWORD_ENV = "RETAIL_HUB_ERP_PASSWORD"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid port {text!r}: not an integer"
        ) from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {port}: must be from 0 to 65535"
        )
    return port


def _item_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid item count {text!r}: not an integer"
        ) from None
    if not 0 <= count <= MAX_ITEMS:
        raise argparse.ArgumentTypeError(
            f"invalid item count {count}: must be from 0 to {MAX_ITEMS}"
        )
    return count


def _replay_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"replay folder {text!r} is not a directory")
    return path


def _infobase(text: str) -> str:
    if not text or "/" in text:
        raise argparse.ArgumentTypeError(
            f"invalid infobase name {text!r}: must be non-empty and without '/'"
        )
    return text


def _free_port(host: str) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retail-hub-erp-simulator",
        description=(
            "Serve the master data of a 1C:ERP infobase over 1C's OData interface "
            "at http://HOST:PORT/INFOBASE/odata/standard.odata/, for demos, tests "
            "and benchmarks. Admin endpoints are at /_simulator/ (stats, mutate)."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8081,
        help="TCP port to bind, 0 for any free port (default: %(default)s)",
    )
    parser.add_argument(
        "--infobase",
        default="erp",
        type=_infobase,
        help="infobase name, the path segment before /odata (default: %(default)s)",
    )
    parser.add_argument(
        "--user",
        default=os.environ.get(USER_ENV, "hub"),
        help=f"HTTP Basic user of OData requests (default: ${USER_ENV} or hub)",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get(PASSWORD_ENV, "hub"),
        help=f"HTTP Basic password of OData requests (default: ${PASSWORD_ENV} or hub)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the generated catalogue (default: %(default)s)",
    )
    parser.add_argument(
        "--items",
        type=_item_count,
        default=DEFAULT_ITEMS,
        help="number of generated items, folders not counted (default: %(default)s)",
    )
    parser.add_argument(
        "--replay",
        type=_replay_folder,
        metavar="DIR",
        help=(
            "serve the <EntitySet>.json responses in DIR instead of a generated "
            "catalogue; --seed and --items are then ignored"
        ),
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default: %(default)s)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line ``argv``, or ``sys.argv[1:]`` if None.

    Exits with status 2 and a message naming the invalid value on bad input.
    """
    return _build_parser().parse_args(argv)


def build_catalogue(args: argparse.Namespace) -> Catalogue:
    """Build the catalogue that the parsed command line ``args`` selects.

    Raises ValueError if the replay folder has no valid responses.
    """
    if args.replay is not None:
        return Catalogue.from_folder(args.replay)
    return Catalogue.generate(seed=args.seed, items=args.items)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the simulator until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        catalogue = build_catalogue(args)
    except ValueError as error:
        raise SystemExit(f"retail-hub-erp-simulator: error: {error}") from error
    app = create_app(catalogue, args.infobase, args.user, args.password)
    port = args.port or _free_port(args.host)
    url = f"http://{args.host}:{port}/{args.infobase}/odata/standard.odata/"
    logger.info("ERP simulator serving %s at %s", catalogue.describe(), url)
    uvicorn.run(app, host=args.host, port=port, log_level=args.log_level)


if __name__ == "__main__":
    main()
