"""Shared parts of the benchmarks: sizes, results, unique names and test data."""

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.items import map_items
from connectors.mapping import MappingResult
from erp_simulator import BARCODES, ITEMS, Catalogue
from hub.settings import Settings

__all__ = [
    "FULL",
    "SHORT",
    "SMOKE",
    "BenchResult",
    "Sizes",
    "Stopwatch",
    "bench_settings",
    "generate_items",
    "unique_name",
    "with_changed_share",
]

logger = logging.getLogger("bench")

# Every benchmark generates its items from this seed, so runs are comparable.
CATALOGUE_SEED = 20240601


@dataclass(frozen=True)
class Sizes:
    """The sizes of one mode of the suite."""

    name: str
    ingest_items: int
    fanout_documents: int
    fanout_stores: int
    apply_documents: int
    pull_stores: int
    pull_pages: int
    """Pages of 500 that each pulling store reads, from revision 0."""
    time_limit_seconds: float
    """Load phases of the fanout and pull_api rows stop after this long."""
    scale_stores: int
    """Stores that the scale row registers and then removes."""


FULL = Sizes("full", 100_000, 100_000, 1_000, 100_000, 1_000, 4, 600.0, 10_000)
SHORT = Sizes("short", 5_000, 5_000, 50, 10_000, 50, 4, 60.0, 300)
SMOKE = Sizes("smoke", 100, 100, 2, 100, 2, 1, 30.0, 3)


@dataclass
class BenchResult:
    """One row of the table: our figure, the baseline's, and their ratio.

    ``ratio`` is ours / baseline. With ``comparison`` ">=" a higher figure is
    better (a rate) and the target is met when ratio >= target. With "<=" the
    figures are times and the target is met when ratio <= target.

    A report-only row has no baseline, so ``baseline``, ``target`` and
    ``comparison`` stay None, and so do ``ratio`` and ``met``.
    """

    name: str
    path: str
    unit: str
    ours: float
    baseline: float | None = None
    target: float | None = None
    comparison: Literal[">=", "<="] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def report_only(self) -> bool:
        """True for a row that reports ``ours`` alone, without a baseline."""
        return self.baseline is None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.ours / self.baseline if self.baseline else float("nan")

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        if ratio is None or self.target is None:
            return None
        if self.comparison == ">=":
            return ratio >= self.target
        return ratio <= self.target

    @property
    def target_text(self) -> str:
        """The target as the table and the JSON show it, such as ">= 0.5"."""
        if self.target is None or self.comparison is None:
            return "report"
        return f"{self.comparison} {self.target}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "unit": self.unit,
            "ours": self.ours,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target_text,
            "met": self.met,
            "details": self.details,
        }


class Stopwatch:
    """A timer of one block, by ``time.perf_counter``, that sets ``seconds`` on exit."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> "Stopwatch":
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self._started


def unique_name(prefix: str) -> str:
    """Return ``prefix`` with a random suffix, valid as a database or queue name."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def bench_settings(benchmark: str) -> Settings:
    """Return settings with a database and exchanges used by this run only."""
    return Settings(
        mongo_database=unique_name(f"rh_bench_{benchmark}_"),
        exchange=unique_name(f"rh-bench-{benchmark}-"),
        dead_letter_exchange=unique_name(f"rh-bench-{benchmark}-dead-letter-"),
    )


def generate_items(count: int) -> tuple[Catalogue, MappingResult]:
    """Generate a catalogue of ``count`` items and map it as the connector does.

    About 1% of generated items carry a deletion mark, so the mapping contains
    slightly fewer than ``count`` live documents.
    """
    with Stopwatch() as watch:
        catalogue = Catalogue.generate(seed=CATALOGUE_SEED, items=count)
        mapped = map_items(catalogue.rows(ITEMS), catalogue.rows(BARCODES))
    logger.info(
        "generated %d items (%d live) in %.1fs",
        count,
        len(mapped.documents),
        watch.seconds,
    )
    return catalogue, mapped


def with_changed_share(mapped: MappingResult, share: float) -> MappingResult:
    """Return a copy of ``mapped`` where every 1/share-th document has a new name."""
    step = max(1, round(1 / share))
    documents: dict[str, tuple[str, dict[str, Any]]] = {}
    for position, (key, (scope, data)) in enumerate(sorted(mapped.documents.items())):
        if position % step == 0:
            data = {**data, "name": data["name"] + " (new)"}
        documents[key] = (scope, data)
    return MappingResult(documents, set(mapped.deleted), list(mapped.quarantined))
