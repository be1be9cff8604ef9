"""The dashboard's pages and JSON endpoints, served over HTTP on the real servers."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hub.repository import Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from monitor import model
from monitor.app import create_monitor_app
from monitor.dashboard import MISSING_CHART_NOTICE, WEB_DIR, create_dashboard_router
from monitor.settings import MonitorSettings
from tests.conftest import PrivateFerretDB
from tests.dashboard_support import (
    ENTITIES,
    HISTORY_POINTS,
    dashboard_app,
    health,
    run,
    seed_fleet,
)

pytestmark = pytest.mark.integration

SILENT = "s0007"
LAGGING = {"s0003", "s0010", "s0011"}


@pytest.fixture
async def client(repository: Repository) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        BackgroundServer(dashboard_app(repository)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        yield http


async def test_overview_counts_statuses(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 20, SILENT, LAGGING)

    response = await client.get("/api/overview")

    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {
        "SILENT": 1,
        "NEVER_CONNECTED": 0,
        "LAGGING": 3,
        "OK": 16,
        "REMOVED": 0,
    }
    assert body["matched"] == 20
    assert body["registered"] == 20
    assert body["groups"] == ["msk", "spb"]
    # Worst status first, then by id.
    ids = [store["store_id"] for store in body["stores"]]
    assert ids[:4] == [SILENT, "s0003", "s0010", "s0011"]
    lagging = body["stores"][1]
    assert lagging["lag_revisions"] == 1500
    assert lagging["lag_seconds"] == 2250.0


async def test_overview_filters_by_group(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 20, SILENT, LAGGING)

    body = (await client.get("/api/overview", params={"group": "spb"})).json()

    assert body["matched"] == 10
    assert body["registered"] == 20
    assert all(store["groups"] == ["spb"] for store in body["stores"])
    # s0003 and s0011 are odd, so in spb; s0010 is in msk.
    assert body["counts"]["LAGGING"] == 2
    assert body["counts"]["SILENT"] == 1
    assert body["counts"]["OK"] == 7


async def test_overview_searches_and_filters_status(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 20, SILENT, LAGGING)

    by_name = (await client.get("/api/overview", params={"q": "STORE S001"})).json()
    by_status = (await client.get("/api/overview", params={"status": "LAGGING"})).json()
    nothing = (await client.get("/api/overview", params={"q": "no such store"})).json()

    assert [s["store_id"] for s in by_name["stores"]] == [
        "s0010",
        "s0011",
        *(f"s00{n}" for n in range(12, 20)),
    ]
    assert [s["store_id"] for s in by_status["stores"]] == ["s0003", "s0010", "s0011"]
    assert nothing["matched"] == 0
    assert nothing["stores"] == []


async def test_store_page_data(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 20, SILENT, LAGGING)

    response = await client.get(f"/api/stores/{SILENT}")

    assert response.status_code == 200
    page = response.json()
    assert page["store"]["status"] == "SILENT"
    assert page["store"]["entities"]["items"]["consumers"] == 0
    assert sorted(page["history"]) == sorted(ENTITIES)
    points = page["history"]["items"]
    assert len(points) == HISTORY_POINTS
    times = [point["at"] for point in points]
    assert times == sorted(times)
    assert points[0]["delivered"] > 0
    assert points[-1]["delivered"] == 0
    assert points[-1]["lag_revisions"] > 0
    # Only the store's own events, newest first.
    assert [e["message"] for e in page["events"]] == [
        "store is SILENT",
        "store is LAGGING",
    ]


async def test_store_page_window(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 20, SILENT, LAGGING)

    # The seeded history spans the last hour, one point a minute.
    page = (await client.get(f"/api/stores/{SILENT}", params={"hours": 0.25})).json()

    assert 14 <= len(page["history"]["items"]) <= 16


async def test_store_page_unknown_store(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 3, "s0001", set())

    response = await client.get("/api/stores/nope")
    page = await client.get("/stores/nope")

    assert response.status_code == 404
    assert "nope" in response.json()["detail"]
    # The HTML page loads, then shows the error that the JSON call returns.
    assert page.status_code == 200


async def test_store_page_rejects_bad_window(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/stores/s0001", params={"hours": 0})

    assert response.status_code == 422


async def test_runs_newest_first(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    for number, status in enumerate(["succeeded", "failed", "succeeded"]):
        started = start + timedelta(hours=number)
        await repository.record_run(run(f"run{number}", "items", started, status))
    await repository.record_run(run("run9", "prices", start, "guard_stopped"))

    runs = (await client.get("/api/runs")).json()
    items = (await client.get("/api/runs", params={"entity": "items"})).json()
    latest = (await client.get("/api/runs", params={"limit": 1})).json()

    assert [r["id"] for r in runs][:3] == ["run2", "run1", "run0"]
    assert len(runs) == 4
    assert [r["id"] for r in items] == ["run2", "run1", "run0"]
    assert runs[1]["status"] == "failed"
    assert runs[1]["error"] == "ERP timed out"
    assert runs[0]["records_read"] == 5000
    assert [r["id"] for r in latest] == ["run2"]


async def test_health_reports_broker_down(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    now = datetime.now(UTC)
    await repository.db[model.HEALTH].insert_one(
        health(now, broker_ok=False, message="connection refused")
    )

    body = (await client.get("/api/health")).json()

    assert body["broker_ok"] is False
    assert body["repository_ok"] is True
    assert body["problems"] == ["The monitor cannot reach RabbitMQ: connection refused"]


async def test_health_reports_stale_report(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await repository.db[model.HEALTH].insert_one(health(long_ago))

    body = (await client.get("/api/health")).json()

    assert len(body["problems"]) == 1
    assert "out of date" in body["problems"][0]


async def test_health_without_report(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/health")).json()

    assert body["problems"] == [
        "The monitor has not reported its health yet. Is it running?"
    ]


async def test_malformed_status_is_skipped(
    client: httpx.AsyncClient, repository: Repository
) -> None:
    await seed_fleet(repository, 3, "s0001", set())
    await repository.db[model.STATUS].insert_one({"_id": "broken", "status": 7})

    body = (await client.get("/api/overview")).json()
    broken = await client.get("/api/stores/broken")

    assert body["registered"] == 3
    assert broken.status_code == 500
    assert "malformed" in broken.json()["detail"]


async def test_pages_and_assets_served(client: httpx.AsyncClient) -> None:
    for path in ("/", "/stores/s0001", "/runs"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path
    for name in ("dashboard.css", "common.js", "stores.js", "store.js", "runs.js"):
        asset = await client.get(f"/static/{name}")
        assert asset.status_code == 200, name
    chart = await client.get("/static/vendor/chart.umd.min.js")
    assert chart.status_code == 200, "run `npm ci` in monitor/web"
    assert chart.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/static/..%2Fpages%2Findex.html")).status_code == 404
    assert (await client.get("/static/missing.js")).status_code == 404


async def test_missing_chart_js_explained(
    repository: Repository, tmp_path: Path
) -> None:
    web = tmp_path / "web"
    (web / "node_modules").mkdir(parents=True)
    (web / "pages").symlink_to(WEB_DIR / "pages")
    (web / "static").symlink_to(WEB_DIR / "static")
    app = FastAPI()
    app.include_router(create_dashboard_router(repository, web))
    async with (
        BackgroundServer(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        page = await http.get("/stores/s0001")
        chart = await http.get("/static/vendor/chart.umd.min.js")

    assert MISSING_CHART_NOTICE in page.text
    assert chart.status_code == 503
    assert "npm ci" in chart.json()["detail"]


async def test_repository_down_returns_503(
    private_ferretdb: PrivateFerretDB,
) -> None:
    settings = Settings(mongo_url=private_ferretdb.url, mongo_timeout_ms=300)
    repository = Repository.from_settings(settings)
    try:
        async with (
            BackgroundServer(dashboard_app(repository)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        ):
            private_ferretdb.stop()
            overview = await http.get("/api/overview")
            health_body = (await http.get("/api/health")).json()
            page = await http.get("/")
    finally:
        await repository.close()

    assert overview.status_code == 503
    assert overview.headers["retry-after"] == "5"
    assert health_body["repository_ok"] is False
    assert health_body["problems"][0].startswith("The dashboard cannot read")
    assert page.status_code == 200


async def test_monitor_app_serves_dashboard(
    repository: Repository, settings: Settings
) -> None:
    await seed_fleet(repository, 3, "s0001", set())
    monitor_settings = MonitorSettings(**settings.model_dump())
    app = create_monitor_app(monitor_settings, repository, run_checks=False)
    async with (
        BackgroundServer(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        page = await http.get("/")
        overview = await http.get("/api/overview")

    assert page.status_code == 200
    assert "/static/stores.js" in page.text
    assert overview.json()["counts"]["SILENT"] == 1
