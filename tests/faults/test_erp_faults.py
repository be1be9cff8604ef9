"""A misbehaving ERP: the run fails or is guard-stopped, and no store loses data.

Each fault starts from two stores (one AMQP, one pull) that match the hub,
edits 20 items in the ERP, and runs the items connector while the ERP
simulator misbehaves. A run that cannot read the full data set fails, and
the monitor's rules raise the ConnectorRunFailed alert. A run that would
delete too much (an empty or partial data set) is stopped by the
mass-deletion guard, which raises MassDeletionGuard. Either way no revision
is written and nothing is deleted, and both stores still match the hub.
Once the ERP is healthy again, the next run brings the edits to both stores
and the alert clears.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.config import CONFIG_ENV, load_config
from connectors.errors import ConnectorError
from connectors.odata import ODataClient
from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from erp_simulator.faults import FaultSettings
from hub.connector_runs import run_and_publish
from hub.repository import Repository
from hub.runtime import Broker
from hub.serving import BackgroundServer
from hub.settings import Settings
from monitor.rules import run_alerts
from tests.faults.harness import (
    ITEMS,
    Hub,
    assert_converged,
    fast_connectors_file,
    serve_hub,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EDITED = 20
# Each OData request may take this long; the "timeout" case waits longer.
ERP_TIMEOUT_SECONDS = 1.0


@dataclass
class ErpCase:
    hub: Hub
    broker: Broker
    erp_url: str
    catalogue: Catalogue

    async def set_faults(self, **faults: Any) -> None:
        async with httpx.AsyncClient(base_url=self.erp_url) as admin:
            body = FaultSettings.model_validate(faults).model_dump()
            response = await admin.post("/_simulator/faults", json=body)
            response.raise_for_status()

    async def run(self) -> None:
        erp = ODataClient.from_settings(self.hub.settings, load_config().erp)
        try:
            await run_and_publish(
                self.hub.settings, self.hub.repository, erp, ITEMS, self.broker
            )
        finally:
            await erp.close()

    async def alerts(self) -> list[str]:
        runs = await self.hub.repository.recent_runs(ITEMS)
        return [alert.name for alert in run_alerts(runs)]


@pytest.fixture
async def erp_case(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    store_queues: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ErpCase]:
    monkeypatch.setenv(CONFIG_ENV, str(fast_connectors_file(tmp_path)))
    catalogue = Catalogue.generate(seed=5, items=300)
    async with BackgroundServer(create_erp_app(catalogue)) as erp:
        settings = settings.model_copy(
            update={"erp_url": erp.url, "erp_timeout_seconds": ERP_TIMEOUT_SECONDS}
        )
        async with serve_hub(settings, repository, tmp_path, store_queues) as hub:
            await hub.add_store("amqp", broker.channel, broker.exchange)
            await hub.add_store("pull")
            yield ErpCase(hub, broker, erp.url, catalogue)


@dataclass(frozen=True)
class Fault:
    """One misbehaviour of the ERP and the run status and alert it must cause."""

    name: str
    faults: dict[str, Any]
    status: str
    alert: str


FAULTS = [
    Fault(
        "timeout",
        {"delay_seconds": 2 * ERP_TIMEOUT_SECONDS},
        "failed",
        "ConnectorRunFailed",
    ),
    Fault("http-500", {"fail_requests": 10}, "failed", "ConnectorRunFailed"),
    Fault("truncated-json", {"truncate_requests": 10}, "failed", "ConnectorRunFailed"),
    Fault(
        "xml-error-page",
        {"fail_requests": 10, "fail_form": "xml"},
        "failed",
        "ConnectorRunFailed",
    ),
    Fault("empty-data-set", {"serve_share": 0.0}, "guard_stopped", "MassDeletionGuard"),
    Fault(
        "partial-data-set", {"serve_share": 0.5}, "guard_stopped", "MassDeletionGuard"
    ),
]


@pytest.mark.timeout(300)
async def test_erp_faults_lose_nothing(erp_case: ErpCase) -> None:
    """Run every fault of FAULTS in turn on one hub, each followed by a recovery."""
    hub = erp_case.hub
    repository = hub.repository
    async with hub.agent(hub.stores[0]), hub.agent(hub.stores[1]):
        await erp_case.run()
        before = await assert_converged(repository, hub.stores)

        for fault in FAULTS:
            revision = await repository.committed_revision(ITEMS)
            live = await repository.live_documents(ITEMS)
            change = erp_case.catalogue.mutate(edit=EDITED)

            await erp_case.set_faults(**fault.faults)
            with pytest.raises(ConnectorError):
                await erp_case.run()
            runs = await repository.recent_runs(ITEMS)
            alerts = await erp_case.alerts()
            during = await assert_converged(repository, hub.stores)

            assert runs[0]["status"] == fault.status, fault.name
            assert alerts == [fault.alert], fault.name
            assert await repository.committed_revision(ITEMS) == revision, fault.name
            assert await repository.live_documents(ITEMS) == live, fault.name
            assert [r.store_documents for r in during] == [
                r.store_documents for r in before
            ], fault.name

            await erp_case.set_faults()
            await erp_case.run()
            after = await assert_converged(repository, hub.stores)
            live_after = await repository.live_documents(ITEMS)

            assert await erp_case.alerts() == [], fault.name
            assert after[0].hub_revision == revision + EDITED, fault.name
            for key in change.edited:
                assert live_after[key].rev > revision, f"{fault.name}: {key}"
            before = after


async def test_slow_erp_run_succeeds(erp_case: ErpCase) -> None:
    hub = erp_case.hub
    async with hub.agent(hub.stores[0]), hub.agent(hub.stores[1]):
        await erp_case.run()
        await assert_converged(hub.repository, hub.stores)
        revision = await hub.repository.committed_revision(ITEMS)
        erp_case.catalogue.mutate(edit=EDITED)

        await erp_case.set_faults(delay_seconds=ERP_TIMEOUT_SECONDS / 2)
        await erp_case.run()
        results = await assert_converged(hub.repository, hub.stores)
        alerts = await erp_case.alerts()

    assert [result.hub_revision for result in results] == [revision + EDITED] * 2
    assert alerts == []
