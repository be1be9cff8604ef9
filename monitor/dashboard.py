"""The dashboard of support staff: HTML pages and the JSON they poll.

Pages: ``/`` (every store, coloured by status), ``/stores/{store_id}`` (one
store's transfer charts, queues and events) and ``/runs`` (connector runs).
They are plain HTML files in ``monitor/web/pages`` whose scripts fetch
``/api/overview``, ``/api/stores/{store_id}``, ``/api/runs`` and
``/api/health`` every few seconds, so the pages keep showing their last data
and a banner while the repository is down.

Chart.js comes from ``monitor/web/node_modules``, which ``npm ci`` in
``monitor/web`` fills (``deploy/dev.sh setup`` runs it). Without it the pages
still load, with a banner that explains how to install it.
"""

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse

from hub.errors import RepositoryUnavailableError
from hub.repository import Repository
from monitor.dashboard_data import (
    HealthView,
    Overview,
    RunView,
    StorePage,
    read_health,
    read_overview,
    read_runs,
    read_store_page,
)

__all__ = ["WEB_DIR", "chart_bundle", "create_dashboard_router"]

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
RETRY_AFTER_SECONDS = 5
MISSING_CHART_NOTICE = (
    "Chart.js is not installed, so the charts are missing: run"
    " `npm ci --no-audit --no-fund` in monitor/web (or `bash deploy/dev.sh setup`)"
    " and reload the page."
)
_NOTICE_MARKER = "<!-- server notice -->"


def chart_bundle(web_dir: Path = WEB_DIR) -> Path:
    """Return the path of Chart.js's UMD bundle, which may not exist."""
    return web_dir / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"


def _unavailable(exc: RepositoryUnavailableError) -> HTTPException:
    return HTTPException(
        503, detail=str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def create_dashboard_router(
    repository: Repository, web_dir: Path = WEB_DIR
) -> APIRouter:
    """Build the dashboard's routes on ``repository``.

    ``web_dir`` contains ``pages/``, ``static/`` and ``node_modules/``.
    """
    router = APIRouter(tags=["dashboard"])
    pages_dir = web_dir / "pages"
    static_dir = web_dir / "static"
    # Only the files present at start are served, so no request path can
    # reach outside static/.
    static_files = {path.name: path for path in static_dir.iterdir() if path.is_file()}
    bundle = chart_bundle(web_dir)
    if not bundle.is_file():
        logger.error("%s (looked for %s)", MISSING_CHART_NOTICE, bundle)

    def page(name: str) -> HTMLResponse:
        html = (pages_dir / name).read_text(encoding="utf-8")
        # Checked on every request, so that installing Chart.js needs no restart.
        if not bundle.is_file():
            notice = f'<div class="banner server-notice">{MISSING_CHART_NOTICE}</div>'
            html = html.replace(_NOTICE_MARKER, notice)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def stores_page() -> HTMLResponse:
        return page("index.html")

    @router.get("/stores/{store_id}", response_class=HTMLResponse)
    async def store_page(store_id: str) -> HTMLResponse:
        # The page reads the store id from its URL and loads the data itself.
        return page("store.html")

    @router.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    async def runs_page() -> HTMLResponse:
        return page("runs.html")

    @router.get("/static/vendor/chart.umd.min.js", include_in_schema=False)
    async def chart_js() -> FileResponse:
        if not bundle.is_file():
            logger.error("%s (looked for %s)", MISSING_CHART_NOTICE, bundle)
            raise HTTPException(503, detail=MISSING_CHART_NOTICE)
        return FileResponse(bundle, media_type="text/javascript")

    @router.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> FileResponse:
        path = static_files.get(name)
        if path is None:
            raise HTTPException(404, detail=f"no static file named {name!r}")
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    @router.get("/api/overview")
    async def overview(
        q: Annotated[str, Query(description="Part of a store id or name.")] = "",
        group: Annotated[str, Query(description="Group a store must be in.")] = "",
        status: Annotated[str, Query(description="Status a store must have.")] = "",
    ) -> Overview:
        """Return the stores that match every filter, with counts per status."""
        try:
            return await read_overview(repository, q, group, status)
        except RepositoryUnavailableError as exc:
            raise _unavailable(exc) from exc

    @router.get("/api/stores/{store_id}")
    async def store_detail(
        store_id: str,
        hours: Annotated[
            float, Query(gt=0, le=24 * 7, description="Hours of history to return.")
        ] = 6,
    ) -> StorePage:
        """Return a store's status, transfer history and recent events."""
        try:
            found = await read_store_page(repository, store_id, hours)
        except RepositoryUnavailableError as exc:
            raise _unavailable(exc) from exc
        except ValueError as exc:
            logger.error("cannot show store %s: %s", store_id, exc)
            raise HTTPException(500, detail=str(exc)) from exc
        if found is None:
            raise HTTPException(
                404, detail=f"the monitor has no status of store {store_id!r}"
            )
        return found

    @router.get("/api/runs")
    async def runs(
        entity: Annotated[str | None, Query(description="Only this entity.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[RunView]:
        """Return the latest connector runs, newest first."""
        try:
            return await read_runs(repository, entity, limit)
        except RepositoryUnavailableError as exc:
            raise _unavailable(exc) from exc

    @router.get("/api/health")
    async def health() -> HealthView:
        """Return the monitor's health; an unreachable repository is reported."""
        return await read_health(repository)

    return router
