"""One connector run: read the ERP's full data set, diff it, write the changes.

Every entity runs through the same steps; what differs is the ConnectorSpec,
which says how to read and map that entity. A lease makes sure only one run
per entity happens at a time, across processes.
"""

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.diff import diff_snapshot
from connectors.errors import LeaseHeldError, MappingFailedError, MassDeletionError
from connectors.mapping import MappingResult
from connectors.odata import ODataClient
from hub.leases import Lease, LeaseUnavailableError
from hub.repository import Repository

__all__ = ["ConnectorSpec", "RunReport", "run_connector"]

logger = logging.getLogger(__name__)

_LEASE_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class ConnectorSpec:
    """The reading and mapping of one entity from the ERP."""

    entity: str
    read: Callable[[ODataClient], Awaitable[tuple[int, MappingResult]]]
    """Read the full data set; return the number of rows read and the mapping."""
    interval_seconds: float = 600.0
    """How often the scheduler runs the entity."""


@dataclass
class RunReport:
    """The record of one connector run, as stored in the ``runs`` collection."""

    entity: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    status: str = "running"
    """running, succeeded, failed, or guard_stopped (a mass deletion refused)."""
    records_read: int = 0
    pages_read: int = 0
    skipped: int = 0
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    committed_revision: int | None = None
    published: int | None = None
    """Documents published after the run; None until a publish follows it."""
    duration_seconds: float = 0.0
    error: str | None = None

    def as_document(self) -> dict[str, Any]:
        """Return the report as a ``runs`` document, keyed by the run id."""
        return {"_id": self.run_id, **asdict(self)}


async def run_connector(
    spec: ConnectorSpec,
    erp: ODataClient,
    repository: Repository,
    *,
    max_delete_share: float,
    lease_holder: str | None = None,
) -> RunReport:
    """Run ``spec`` once and return its report.

    Raises LeaseHeldError when another process runs the same entity,
    MassDeletionError when the run would delete more than
    ``max_delete_share`` of the entity's live documents (nothing is written,
    and the run is recorded as ``guard_stopped``), and the ERP's or the
    repository's errors as they come. The report is stored in the ``runs``
    collection whether the run succeeds or not, when the repository can be
    reached.
    """
    report = RunReport(spec.entity)
    started = time.monotonic()
    logger.info("run %s of %s started", report.run_id, spec.entity)
    lease = Lease(
        repository.db,
        f"connector:{spec.entity}",
        holder=lease_holder,
        ttl_seconds=_LEASE_TTL_SECONDS,
    )
    try:
        async with lease:
            await _run_steps(spec, erp, repository, report, max_delete_share, lease)
    except LeaseUnavailableError as exc:
        logger.info("run %s of %s skipped: %s", report.run_id, spec.entity, exc)
        raise LeaseHeldError(str(exc)) from exc
    except MassDeletionError as exc:
        report.status = "guard_stopped"
        report.error = str(exc)
        logger.error("run %s of %s stopped: %s", report.run_id, spec.entity, exc)
        await _finish(repository, report, started)
        raise
    except Exception as exc:
        report.status = "failed"
        report.error = f"{type(exc).__name__}: {exc}"
        logger.error(
            "run %s of %s failed: %s", report.run_id, spec.entity, report.error
        )
        await _finish(repository, report, started)
        raise
    report.status = "succeeded"
    await _finish(repository, report, started)
    logger.info(
        "run %s of %s finished in %.1fs: read %d rows in %d pages, written %d, "
        "unchanged %d, deleted %d, quarantined %d, revision %s",
        report.run_id,
        spec.entity,
        report.duration_seconds,
        report.records_read,
        report.pages_read,
        report.written,
        report.unchanged,
        report.deleted,
        report.quarantined,
        report.committed_revision,
    )
    return report


async def _run_steps(
    spec: ConnectorSpec,
    erp: ODataClient,
    repository: Repository,
    report: RunReport,
    max_delete_share: float,
    lease: Lease,
) -> None:
    report.records_read, mapped = await spec.read(erp)
    report.pages_read = mapped.pages_read
    report.skipped = mapped.skipped

    report.quarantined = len(mapped.quarantined)
    for record in mapped.quarantined:
        logger.warning(
            "run %s of %s quarantined record %s: %s",
            report.run_id,
            spec.entity,
            record.key,
            record.reason,
        )
    await repository.quarantine(spec.entity, report.run_id, mapped.quarantined)
    if mapped.quarantined and not mapped.documents and not mapped.deleted:
        # A mapping that fits no record is broken; without this the run
        # would succeed and, past the deletion guard, delete everything.
        raise MappingFailedError(
            spec.entity, len(mapped.quarantined), mapped.quarantined[0].reason
        )

    index = await repository.load_index(spec.entity)
    diff = diff_snapshot(index, mapped)
    report.unchanged = diff.unchanged
    if diff.live_before and diff.deletions > max_delete_share * diff.live_before:
        raise MassDeletionError(
            spec.entity, diff.deletions, diff.live_before, max_delete_share
        )

    lease.check()
    report.committed_revision = await repository.write_changes(
        spec.entity, diff.changes
    )
    report.written = len(diff.changes) - diff.deletions
    report.deleted = diff.deletions
    await repository.compact_if_needed(spec.entity, len(index) + len(diff.changes))


async def _finish(repository: Repository, report: RunReport, started: float) -> None:
    report.finished_at = datetime.now(UTC)
    report.duration_seconds = round(time.monotonic() - started, 3)
    try:
        await repository.record_run(report.as_document())
    except Exception as exc:
        # The run's own outcome matters more than its record; a repository
        # that is down has already failed the run with its own error.
        logger.warning(
            "could not record run %s of %s: %s: %s",
            report.run_id,
            report.entity,
            type(exc).__name__,
            exc,
        )
