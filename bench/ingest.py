"""Connector benchmarks: the diff and write of a snapshot, and a run with no change."""

import asyncio
import logging
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from bench.child import ChildServer, serve_until_stopped
from bench.common import (
    CATALOGUE_SEED,
    BenchResult,
    Sizes,
    Stopwatch,
    bench_settings,
    generate_items,
    unique_name,
    with_changed_share,
)
from connectors.diff import diff_snapshot
from connectors.engine import run_connector
from connectors.items import read_items
from connectors.mapping import MappingResult
from connectors.odata import ODataClient
from connectors.registry import get_connector
from contracts import document_hash
from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from hub.repository import Repository

__all__ = ["run_ingest", "run_no_change"]

logger = logging.getLogger("bench")

ENTITY = "items"
CHANGED_SHARE = 0.01
# The chunk size of Repository.write_changes, so the baseline sends the same
# number of insert_many calls.
INSERT_CHUNK = 1000


async def _ingest(repository: Repository, mapped: MappingResult) -> dict[str, float]:
    """Diff ``mapped`` against the repository and write the changes, step by step.

    Returns the number of changes and the seconds of each step.
    """
    with Stopwatch() as load:
        index = await repository.load_index(ENTITY)
    with Stopwatch() as compare:
        diff = diff_snapshot(index, mapped)
    with Stopwatch() as write:
        await repository.write_changes(ENTITY, diff.changes)
    return {
        "changes": len(diff.changes),
        "load_index_seconds": load.seconds,
        "diff_seconds": compare.seconds,
        "write_changes_seconds": write.seconds,
    }


def _raw_rows(mapped: MappingResult) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for revision, key in enumerate(sorted(mapped.documents), start=1):
        scope, data = mapped.documents[key]
        rows.append(
            {
                "entity": ENTITY,
                "key": key,
                "rev": revision,
                "hash": document_hash(data),
                "deleted": False,
                "scope": scope,
                "data": data,
                "updated_at": now,
            }
        )
    return rows


async def _insert_baseline(repository: Repository, rows: list[dict[str, Any]]) -> float:
    collection = repository.db[unique_name("baseline_")]
    with Stopwatch() as watch:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            await collection.insert_many(chunk, ordered=False)
    await collection.drop()
    return watch.seconds


def _rounded(steps: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in steps.items()}


async def run_ingest(sizes: Sizes) -> BenchResult:
    """Time a snapshot with 1% changed documents against raw insert_many."""
    _, mapped = generate_items(sizes.ingest_items)
    changed = with_changed_share(mapped, CHANGED_SHARE)
    count = len(mapped.documents)
    settings = bench_settings("ingest")
    repository = Repository.from_settings(settings)
    try:
        await repository.ensure_indexes()
        with Stopwatch() as first_load:
            await _ingest(repository, mapped)
        logger.info(
            "ingest: first load of %d documents in %.1fs", count, first_load.seconds
        )

        with Stopwatch() as ours:
            steps = await _ingest(repository, changed)
        logger.info("ingest: snapshot with 1%% changed: %s", _rounded(steps))

        # Superseded versions stay until a compaction, which the connector
        # runs once they exceed repository.COMPACT_SHARE of the documents.
        with Stopwatch() as compaction:
            compacted = await repository.compact(ENTITY)
        # What the connector process keeps in memory, a new process reads.
        cold_repository = Repository.from_settings(settings)
        try:
            with Stopwatch() as cold_load:
                await cold_repository.load_index(ENTITY)
        finally:
            await cold_repository.close()
        logger.info(
            "ingest: load_index of a new process %.1fs, compaction of %d versions"
            " %.1fs",
            cold_load.seconds,
            compacted,
            compaction.seconds,
        )

        baseline_seconds = await _insert_baseline(repository, _raw_rows(mapped))
        logger.info("ingest: baseline insert_many in %.1fs", baseline_seconds)
    finally:
        await repository.client.drop_database(settings.mongo_database)
        await repository.close()

    return BenchResult(
        name="ingest",
        path="load_index + diff_snapshot + write_changes, 1% changed",
        unit="documents/s",
        ours=count / ours.seconds,
        baseline=count / baseline_seconds,
        target=0.5,
        comparison=">=",
        details={
            "documents": count,
            **steps,
            "ours_seconds": ours.seconds,
            "baseline_seconds": baseline_seconds,
            "first_load_seconds": first_load.seconds,
            "first_load_documents_per_second": count / first_load.seconds,
            "load_index_new_process_seconds": cold_load.seconds,
            "compaction_seconds": compaction.seconds,
            "compacted_versions": compacted,
        },
    )


def _serve_erp(items: int, seconds: float, pipe: Connection) -> None:
    """Serve the ERP simulator's catalogue of ``items`` in a child process."""
    catalogue = Catalogue.generate(seed=CATALOGUE_SEED, items=items)
    asyncio.run(serve_until_stopped(create_erp_app(catalogue), pipe, seconds))


async def run_no_change(sizes: Sizes) -> BenchResult:
    """Time a connector run over unchanged ERP data against one repository read.

    The ERP simulator runs in a child process, so its serving of OData pages
    is not timed as the connector's work.
    """
    settings = bench_settings("no_change")
    repository = Repository.from_settings(settings)
    spec = get_connector(ENTITY)
    erp_seconds = sizes.time_limit_seconds * 10 + 600
    try:
        await repository.ensure_indexes()
        async with ChildServer(
            _serve_erp, (sizes.ingest_items, erp_seconds)
        ) as erp_server:
            erp = ODataClient(
                erp_server.url,
                settings.erp_infobase,
                settings.erp_user,
                settings.erp_password.get_secret_value(),
                page_size=settings.erp_page_size,
            )
            try:
                first = await run_connector(spec, erp, repository, max_delete_share=1.0)
                logger.info(
                    "no_change: first run wrote %d documents in %.1fs",
                    first.written,
                    first.duration_seconds,
                )
                with Stopwatch() as ours:
                    report = await run_connector(
                        spec, erp, repository, max_delete_share=1.0
                    )
                logger.info(
                    "no_change: unchanged run in %.1fs (%d unchanged, %d written)",
                    ours.seconds,
                    report.unchanged,
                    report.written,
                )

                # The parts of a run, timed one by one.
                with Stopwatch() as erp_read:
                    _, mapped = await read_items(erp)
                with Stopwatch() as hub_side:
                    index = await repository.load_index(ENTITY)
                    diff_snapshot(index, mapped)
                # A connector process that just started reads its index from
                # the repository.
                cold_repository = Repository.from_settings(settings)
                try:
                    with Stopwatch() as cold:
                        await run_connector(
                            spec, erp, cold_repository, max_delete_share=1.0
                        )
                finally:
                    await cold_repository.close()
            finally:
                await erp.close()

        with Stopwatch() as baseline:
            rows = await repository.db.documents.find({"entity": ENTITY}).to_list(None)
        logger.info(
            "no_change: baseline read of %d documents in %.1fs",
            len(rows),
            baseline.seconds,
        )
    finally:
        await repository.client.drop_database(settings.mongo_database)
        await repository.close()

    return BenchResult(
        name="no_change",
        path="run_connector over unchanged ERP data (simulator over HTTP)",
        unit="seconds",
        ours=ours.seconds,
        baseline=baseline.seconds,
        target=2.0,
        comparison="<=",
        details={
            "documents": len(rows),
            "unchanged": report.unchanged,
            "written": report.written,
            "erp_read_and_map_seconds": erp_read.seconds,
            "load_index_and_diff_seconds": hub_side.seconds,
            "load_index_and_diff_ratio": hub_side.seconds / baseline.seconds,
            "first_run_of_a_process_seconds": cold.seconds,
            "first_run_of_a_process_ratio": cold.seconds / baseline.seconds,
        },
    )
