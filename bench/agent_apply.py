"""Store agent benchmark: LocalStore.apply against a raw sqlite3 executemany."""

import asyncio
import json
import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench.common import BenchResult, Sizes, Stopwatch, generate_items
from contracts import ChangeDocument, document_hash
from store_agent.local_store import LocalStore

__all__ = ["run_agent_apply"]

logger = logging.getLogger("bench")

ENTITY = "items"
# A store applies one AMQP message or one pull page at a time, and both carry
# at most 500 documents by default.
BATCH_SIZE = 500


def _apply_ours(path: Path, documents: list[ChangeDocument]) -> float:
    with LocalStore(path) as store, Stopwatch() as watch:
        for start in range(0, len(documents), BATCH_SIZE):
            store.apply(ENTITY, documents[start : start + BATCH_SIZE])
    return watch.seconds


def _apply_raw(path: Path, rows: list[tuple[Any, ...]]) -> float:
    # Opening a LocalStore once gives the baseline the same tables and the
    # same journal mode (WAL is stored in the file).
    LocalStore(path).close()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=NORMAL")
        with Stopwatch() as watch:
            for start in range(0, len(rows), BATCH_SIZE):
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                    rows[start : start + BATCH_SIZE],
                )
                connection.execute("COMMIT")
    finally:
        connection.close()
    return watch.seconds


def _measure(documents: list[ChangeDocument]) -> tuple[float, float]:
    rows = [
        (
            ENTITY,
            document.key,
            document.rev,
            0,
            document.hash,
            json.dumps(document.data, ensure_ascii=False, separators=(",", ":")),
        )
        for document in documents
    ]
    with tempfile.TemporaryDirectory(prefix="rh-bench-apply-") as folder:
        ours = _apply_ours(Path(folder) / "ours.sqlite", documents)
        baseline = _apply_raw(Path(folder) / "baseline.sqlite", rows)
    return ours, baseline


async def run_agent_apply(sizes: Sizes) -> BenchResult:
    """Time LocalStore.apply of N documents in batches against raw inserts."""
    _, mapped = generate_items(sizes.apply_documents)
    documents = [
        ChangeDocument(
            key=key, rev=revision, deleted=False, hash=document_hash(data), data=data
        )
        for revision, (key, (_, data)) in enumerate(
            sorted(mapped.documents.items()), start=1
        )
    ]
    # SQLite calls block, so they run off the event loop as the agent does.
    ours, baseline = await asyncio.to_thread(_measure, documents)
    logger.info(
        "agent_apply: %d documents, LocalStore.apply %.2fs, raw executemany %.2fs",
        len(documents),
        ours,
        baseline,
    )
    count = len(documents)
    return BenchResult(
        name="agent_apply",
        path="LocalStore.apply in batches of 500 (one transaction each)",
        unit="documents/s",
        ours=count / ours,
        baseline=count / baseline,
        target=0.5,
        comparison=">=",
        details={
            "documents": count,
            "batch_size": BATCH_SIZE,
            "ours_seconds": ours,
            "baseline_seconds": baseline,
        },
    )
