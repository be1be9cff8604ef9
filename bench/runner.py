"""Run the benchmarks, print the table and write the results as JSON."""

import json
import logging
import os
import platform
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
from pymongo import AsyncMongoClient

from bench.agent_apply import run_agent_apply
from bench.common import BenchResult, Sizes, Stopwatch
from bench.end_to_end import run_end_to_end
from bench.fanout import run_fanout
from bench.ingest import run_ingest, run_no_change
from bench.pull_api import run_pull_api
from bench.scale import run_scale
from hub.settings import Settings

__all__ = ["BENCHMARKS", "format_table", "run_benchmarks", "write_report"]

logger = logging.getLogger("bench")

Benchmark = Callable[[Sizes], Awaitable[BenchResult]]

# In order of priority; `--only` keeps this order.
BENCHMARKS: dict[str, Benchmark] = {
    "ingest": run_ingest,
    "no_change": run_no_change,
    "fanout": run_fanout,
    "agent_apply": run_agent_apply,
    "pull_api": run_pull_api,
    "scale": run_scale,
    "end_to_end": run_end_to_end,
}


async def run_benchmarks(
    sizes: Sizes, names: list[str]
) -> tuple[list[BenchResult], dict[str, Any]]:
    """Run the benchmarks ``names`` in order; return the results and the report.

    The report is what ``write_report`` stores as JSON. A benchmark that
    raises is logged and listed under ``failures``, and the others still run.
    """
    started = datetime.now(UTC)
    results: list[BenchResult] = []
    failures: dict[str, str] = {}
    for name in names:
        logger.info("%s: started (%s sizes)", name, sizes.name)
        with Stopwatch() as watch:
            try:
                result = await BENCHMARKS[name](sizes)
            except Exception as exc:
                logger.exception("%s: failed", name)
                failures[name] = f"{type(exc).__name__}: {exc}"
                continue
        result.details["wall_seconds"] = watch.seconds
        results.append(result)
        if result.ratio is None:
            logger.info(
                "%s: done in %.1fs, %s %s (report only)",
                name,
                watch.seconds,
                _figure(result.ours),
                result.unit,
            )
        else:
            logger.info(
                "%s: done in %.1fs, ratio %.3f (target %s)",
                name,
                watch.seconds,
                result.ratio,
                result.target_text,
            )

    report = {
        "mode": sizes.name,
        "sizes": sizes.__dict__,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": await describe_machine(),
        "results": [result.as_dict() for result in results],
        "failures": failures,
    }
    return results, report


def write_report(report: dict[str, Any], json_path: Path) -> None:
    """Write ``report`` as indented JSON, creating the folder if needed."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    logger.info("results written to %s", json_path)


async def describe_machine() -> dict[str, Any]:
    """Return the CPU count, memory, Python and server versions of this machine."""
    settings = Settings()
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=settings.mongo_timeout_ms
    )
    try:
        info = await client.admin.command("buildInfo")
        # FerretDB reports the MongoDB version it imitates and its own.
        machine["mongodb_protocol_server"] = {
            "version": info.get("version"),
            "ferretdb_version": info.get("ferretdbVersion"),
        }
    finally:
        await client.close()
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    try:
        properties = connection.transport.connection.server_properties
        version = properties.get("version", b"")
        machine["rabbitmq"] = (
            version.decode() if isinstance(version, bytes) else version
        )
    finally:
        await connection.close()
    return machine


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
    return None


def format_table(results: list[BenchResult]) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| row | path | unit | ours | baseline | ratio | target | met? |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for result in results:
        # A report-only row shows a dash where a baseline figure would be.
        baseline = "-" if result.baseline is None else _figure(result.baseline)
        ratio = "-" if result.ratio is None else f"{result.ratio:.2f}"
        met = {None: "-", True: "yes", False: "no"}[result.met]
        lines.append(
            f"| {result.name} | {result.path} | {result.unit} "
            f"| {_figure(result.ours)} | {baseline} "
            f"| {ratio} | {result.target_text} | {met} |"
        )
    return "\n".join(lines)


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
