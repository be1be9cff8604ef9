"""A hub with a served ERP simulator for cases that run ``retail-hub`` processes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from erp_simulator.faults import FaultSettings
from hub.repository import Repository
from hub.runtime import Broker
from hub.serving import BackgroundServer
from hub.settings import Settings
from tests.conftest import REPO_DIR
from tests.faults.harness import (
    ITEMS,
    Hub,
    fast_connectors_file,
    hub_environment,
    running,
    serve_hub,
)

__all__ = ["ConnectorCase", "connector_case"]

RETAIL_HUB = str(REPO_DIR / ".venv" / "bin" / "retail-hub")


@dataclass
class ConnectorCase:
    """A hub with an AMQP and a pull store, and the ERP simulator it reads."""

    hub: Hub
    catalogue: Catalogue
    erp_url: str
    environment: dict[str, str]
    log: Path

    def run_command(self) -> list[str]:
        """Return the command line of ``retail-hub connector run items``."""
        return [RETAIL_HUB, "connector", "run", ITEMS]

    async def run_to_end(self) -> int:
        """Run the items connector in a subprocess; return its exit code."""
        async with running(self.run_command(), self.log, self.environment) as run:
            return await run.wait()

    async def set_faults(self, **faults: object) -> None:
        """Replace the ERP simulator's faults; no argument turns them off."""
        async with httpx.AsyncClient(base_url=self.erp_url) as admin:
            body = FaultSettings.model_validate(faults).model_dump()
            response = await admin.post("/_simulator/faults", json=body)
            response.raise_for_status()

    def erp_requests(self) -> int:
        """Return the number of OData requests the ERP simulator has served."""
        return self.catalogue.stats.requests_total


@asynccontextmanager
async def connector_case(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    queues: list[str],
    folder: Path,
    items: int = 600,
) -> AsyncIterator[ConnectorCase]:
    """Serve an ERP of ``items`` items and the pull API; register two stores."""
    catalogue = Catalogue.generate(seed=13, items=items)
    async with BackgroundServer(create_erp_app(catalogue)) as erp:
        # Small pages, so a slowed-down ERP makes a run last several requests.
        settings = settings.model_copy(
            update={"erp_url": erp.url, "erp_page_size": 100}
        )
        async with serve_hub(settings, repository, folder, queues) as hub:
            await hub.add_store("amqp", broker.channel, broker.exchange)
            await hub.add_store("pull")
            environment = hub_environment(hub.settings, fast_connectors_file(folder))
            log = folder / "connector.log"
            yield ConnectorCase(hub, catalogue, erp.url, environment, log)
