"""The dashboard in headless Chromium: counts, tile colours and the drawn chart.

Chromium is Debian's package (``deploy/dev.sh setup`` installs it), driven by
Playwright without Playwright's own browser downloads. Outside CI the test is
skipped when Chromium is missing; in CI (``CI=true``) it fails instead.
Screenshots go to ``test-artifacts/``.
"""

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.repository import Repository
from hub.serving import BackgroundServer
from monitor import model
from tests.conftest import REPO_DIR
from tests.dashboard_support import (
    HISTORY_POINTS,
    dashboard_app,
    health,
    run,
    seed_fleet,
)

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("RETAIL_HUB_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO_DIR / "test-artifacts"
STORES = 200
SILENT = "s0042"
LAGGING = {f"s{n:04}" for n in (3, 17, 64, 99, 150, 151, 199)}
SILENT_RED = "rgb(198, 40, 40)"
# Nothing may leave this machine: no QUIC, updates, sync or first-run pings.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _require_browser() -> None:
    problems = []
    if not CHROMIUM.is_file():
        problems.append(f"Chromium is missing at {CHROMIUM}")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing")
    if not problems:
        return
    message = (
        f"{' and '.join(problems)}; run `bash deploy/dev.sh setup`, which installs"
        " Debian's chromium package and the dev extras"
    )
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def dashboard_url(repository: Repository) -> AsyncIterator[str]:
    async with BackgroundServer(dashboard_app(repository)) as server:
        yield server.url


async def test_dashboard_in_chromium(
    dashboard_url: str, repository: Repository
) -> None:
    _require_browser()
    from playwright.async_api import async_playwright

    await seed_fleet(repository, STORES, SILENT, LAGGING)
    ARTIFACTS.mkdir(exist_ok=True)
    profile = tempfile.mkdtemp(prefix="rh-chromium-")
    outside_requests: list[str] = []
    console_errors: list[str] = []
    try:
        async with async_playwright() as playwright:
            # Playwright passes --user-data-dir itself, set to this new profile.
            browser = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=CHROMIUM_FLAGS,
                headless=True,
                viewport={"width": 1400, "height": 900},
                timeout=TIMEOUT_MS,
            )
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith(dashboard_url)
                    else outside_requests.append(request.url)
                ),
            )
            page.on(
                "console",
                lambda message: (
                    console_errors.append(message.text)
                    if message.type == "error"
                    else None
                ),
            )

            await page.goto(dashboard_url + "/")
            await page.wait_for_selector(f"a.tile[data-store-id='s{STORES - 1:04}']")
            counts = await page.evaluate(
                """() => Object.fromEntries(
                    [...document.querySelectorAll('#counts button')].map(
                        (button) => [
                            button.dataset.status,
                            Number(button.querySelector('b').textContent),
                        ]))"""
            )
            tile = page.locator(f"a.tile[data-store-id='{SILENT}']")
            tile_colour = await tile.evaluate(
                "node => getComputedStyle(node).backgroundColor"
            )
            tiles = await page.locator("a.tile").count()
            await page.screenshot(
                path=ARTIFACTS / "dashboard-stores.png", full_page=True
            )

            await tile.click()
            await page.wait_for_url(f"**/stores/{SILENT}")
            await page.wait_for_function(
                "() => { const c = document.getElementById('delivered-chart');"
                " const chart = window.Chart && Chart.getChart(c);"
                " return chart && chart.data.datasets.length > 0; }"
            )
            chart = await page.evaluate(
                """() => {
                    const canvas = document.getElementById('delivered-chart');
                    const chart = Chart.getChart(canvas);
                    const pixels = canvas.getContext('2d')
                        .getImageData(0, 0, canvas.width, canvas.height).data;
                    let painted = 0;
                    for (let i = 3; i < pixels.length; i += 4) {
                        if (pixels[i] !== 0) painted += 1;
                    }
                    return {
                        datasets: chart.data.datasets.map((d) => d.label),
                        points: chart.data.datasets[0].data.length,
                        painted: painted,
                        width: canvas.width,
                    };
                }"""
            )
            queue_rows = await page.locator("#queues tr").count()
            status_badge = await page.inner_text("#store-status")
            await page.screenshot(
                path=ARTIFACTS / "dashboard-store.png", full_page=True
            )

            await repository.db[model.HEALTH].replace_one(
                {"_id": model.HEALTH_ID},
                health(
                    datetime.now(UTC), broker_ok=False, message="connection refused"
                ),
            )
            started = datetime.now(UTC) - timedelta(hours=1)
            await repository.record_run(run("run1", "items", started, "failed"))
            await page.goto(dashboard_url + "/runs")
            await page.wait_for_selector("#updated:not(:empty)")
            failed_runs = await page.locator("#runs tr.failed").count()
            banner = page.locator("#health-banner")
            await banner.wait_for(state="visible")
            banner_text = await banner.inner_text()
            await page.screenshot(path=ARTIFACTS / "dashboard-runs.png", full_page=True)
            await browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    assert counts["SILENT"] == 1
    assert counts["LAGGING"] == len(LAGGING)
    assert counts["OK"] == STORES - 1 - len(LAGGING)
    assert counts["NEVER_CONNECTED"] == 0
    assert tiles == STORES
    assert tile_colour == SILENT_RED
    assert chart["datasets"] == ["items", "prices"]
    assert chart["points"] == HISTORY_POINTS
    assert chart["width"] > 0
    assert chart["painted"] > 1000, "the chart's canvas is blank"
    assert queue_rows == 2
    assert status_badge == "SILENT"
    assert failed_runs == 1
    assert banner_text == "The monitor cannot reach RabbitMQ: connection refused"
    assert outside_requests == []
    assert console_errors == []
