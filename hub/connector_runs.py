"""Run a connector and publish its changes: the path every trigger takes.

The command line, the schedule and the HTTP trigger all call
``run_and_publish``, so a run record always ends with the number of
documents published after it.
"""

import logging

from connectors.engine import RunReport, run_connector
from connectors.odata import ODataClient
from connectors.publisher import PublishReport
from connectors.registry import get_connector
from hub.repository import Repository
from hub.runtime import Broker, publish
from hub.settings import Settings

__all__ = ["run_and_publish"]

logger = logging.getLogger(__name__)


async def run_and_publish(
    settings: Settings,
    repository: Repository,
    erp: ODataClient,
    entity: str,
    broker: Broker | None,
) -> tuple[RunReport, PublishReport | None]:
    """Run ``entity``'s connector, then publish its changes when ``broker`` is set.

    Returns the run's report and the publish report (None without a
    broker); the run record gets the published count. Raises what ``run_connector``
    and ``publish`` raise; a failed publish leaves the changes committed for
    the next publish.
    """
    report = await run_connector(
        get_connector(entity),
        erp,
        repository,
        max_delete_share=settings.max_delete_share,
    )
    if broker is None:
        return report, None
    sent = await publish(settings, repository, broker, entity)
    report.published = sent.documents
    await repository.record_run(report.as_document())
    logger.info(
        "run %s of %s published %d documents in %d messages",
        report.run_id,
        entity,
        sent.documents,
        sent.messages,
    )
    return report, sent
