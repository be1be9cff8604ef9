"""The monitor's HTTP app: Prometheus metrics, health, and the dashboard's pages.

``create_monitor_app`` starts the checks in the app's lifespan, so serving
the app with uvicorn runs the whole monitor. ``app.state.monitor`` is the
``Monitor``, for routers that read its last check.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hub.repository import Repository
from monitor.dashboard import create_dashboard_router
from monitor.metrics import MonitorCollector
from monitor.model import MonitorHealth
from monitor.runner import Monitor
from monitor.settings import MonitorSettings

__all__ = ["create_monitor_app"]

logger = logging.getLogger(__name__)


def create_monitor_app(
    settings: MonitorSettings,
    repository: Repository | None = None,
    *,
    run_checks: bool = True,
) -> FastAPI:
    """Build the monitor's app on ``repository`` (by default one from ``settings``).

    With ``run_checks`` the app checks every ``monitor_interval_seconds``
    while it runs. A repository passed in stays open when the app stops.
    """
    repo = repository or Repository.from_settings(settings)
    owns_repository = repository is None
    monitor = Monitor(settings, repo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop)) if run_checks else None
        yield
        stop.set()
        if task is not None:
            await task
        if owns_repository:
            await repo.close()

    app = FastAPI(
        title="retail-hub monitor",
        description="Delivery status of every store, metrics and alerts.",
        lifespan=lifespan,
    )
    app.state.monitor = monitor
    registry = CollectorRegistry()
    registry.register(MonitorCollector(monitor.view))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Return the metrics of the last check in Prometheus' text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", response_model=MonitorHealth | None)
    async def health() -> MonitorHealth | None:
        """Return the health of the last check; null before the first."""
        return monitor.health

    # --- Routers of other features (the dashboard) are included here. ---
    app.include_router(create_dashboard_router(repo))
    return app
