"""The command line: ``python -m bench [--short] [--only NAME ...] [--json PATH]``."""

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bench.common import FULL, SHORT
from bench.runner import BENCHMARKS, format_table, run_benchmarks, write_report

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the hub's paths against raw baselines on the "
        "servers of RETAIL_HUB_MONGO_URL and RETAIL_HUB_AMQP_URL.",
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="use the small sizes (a few minutes on 2 cores) instead of the full ones",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only these rows, of: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"file to write the results to (default {DEFAULT_JSON})",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("bench").setLevel(logging.INFO)

    names = [name for name in BENCHMARKS if args.only is None or name in args.only]
    sizes = SHORT if args.short else FULL
    results, report = asyncio.run(run_benchmarks(sizes, names))
    write_report(report, args.json)
    print(format_table(results))
    return 0 if len(results) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
