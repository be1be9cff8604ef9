"""Triggers of connector runs: coalescing, the schedule, HTTP and the CLI."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.mapping import QuarantinedRecord
from connectors.scheduler import RunCoordinator, run_schedule
from erp_simulator import Catalogue
from erp_simulator import create_app as create_erp_app
from hub.api import create_app
from hub.cli import main
from hub.repository import Repository
from hub.runtime import Broker
from hub.serving import BackgroundServer
from hub.settings import Settings

OPERATOR_TOKEN = "operator-secret"


async def test_requests_during_run_coalesce() -> None:
    release = asyncio.Event()
    runs: list[str] = []

    async def run(entity: str) -> None:
        runs.append(entity)
        await release.wait()

    coordinator = RunCoordinator(run)
    outcomes = [coordinator.request("prices")]
    for _ in range(500):
        if runs:
            break
        await asyncio.sleep(0.01)
    outcomes += [coordinator.request("prices") for _ in range(3)]
    release.set()
    await coordinator.wait_idle(timeout_seconds=5)

    assert outcomes == ["started", "coalesced", "coalesced", "coalesced"]
    assert runs == ["prices", "prices"]


async def test_failed_run_keeps_coordinator() -> None:
    async def run(entity: str) -> None:
        raise RuntimeError("ERP down")

    coordinator = RunCoordinator(run)
    coordinator.request("stock")
    await coordinator.wait_idle(timeout_seconds=5)

    assert coordinator.request("stock") == "started"
    await coordinator.wait_idle(timeout_seconds=5)
    assert coordinator.runs_started == 2


async def test_schedule_runs_each_interval() -> None:
    runs: list[str] = []

    async def run(entity: str) -> None:
        runs.append(entity)

    requested = await run_schedule(
        RunCoordinator(run),
        {"stock": 0.1, "items": 10.0},
        asyncio.Event(),
        duration_seconds=0.35,
    )

    assert runs.count("items") == 1
    assert 3 <= runs.count("stock") <= 5
    assert requested == len(runs)


@pytest.fixture
async def api(
    settings: Settings, repository: Repository, broker: Broker
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    catalogue = Catalogue.generate(seed=9, items=50, stores=3, stock_items=5)
    async with BackgroundServer(create_erp_app(catalogue)) as erp:
        hub_settings = settings.model_copy(
            update={
                "erp_url": erp.url,
                "operator_token": SecretStr(OPERATOR_TOKEN),
            }
        )
        app = create_app(hub_settings, repository)
        async with (
            BackgroundServer(app) as server,
            httpx.AsyncClient(base_url=server.url) as client,
        ):
            yield client, hub_settings
            coordinator = getattr(app.state, "connector_runs", None)
            if coordinator is not None:
                await coordinator.wait_idle(timeout_seconds=60)


@pytest.mark.integration
async def test_trigger_needs_operator_token(
    api: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, _ = api

    missing = await client.post("/v1/connectors/units/runs")
    wrong = await client.post(
        "/v1/connectors/units/runs", headers={"Authorization": "Bearer nope"}
    )

    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert wrong.status_code == 401


@pytest.mark.integration
async def test_trigger_runs_and_records(
    api: tuple[httpx.AsyncClient, Settings], repository: Repository
) -> None:
    client, _ = api
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    first = await client.post("/v1/connectors/units/runs", headers=headers)
    second = await client.post("/v1/connectors/units/runs", headers=headers)
    unknown = await client.post("/v1/connectors/colours/runs", headers=headers)
    for _ in range(300):
        runs = (await client.get("/v1/connectors/runs", headers=headers)).json()
        finished = [r for r in runs["runs"] if r["status"] != "running"]
        if len(finished) == 2 and all(r["published"] is not None for r in finished):
            break
        await asyncio.sleep(0.1)

    assert first.status_code == 202
    assert first.json() == {"entity": "units", "run": "started"}
    assert second.json()["run"] == "coalesced"
    assert unknown.status_code == 404
    statuses = [r["status"] for r in finished]
    assert statuses == ["succeeded", "succeeded"]
    assert sorted(r["published"] for r in finished) == [0, 6]


@pytest.mark.integration
def test_cli_lists_runs_and_quarantine(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def record() -> None:
        repository = Repository.from_settings(settings)
        try:
            await repository.record_run(
                {
                    "_id": "r1",
                    "entity": "prices",
                    "status": "guard_stopped",
                    "started_at": "2026-01-01T00:00:00",
                    "records_read": 5,
                    "pages_read": 1,
                    "written": 0,
                    "deleted": 0,
                    "published": None,
                    "error": "would delete",
                }
            )
            await repository.quarantine(
                "prices", "r1", [QuarantinedRecord("k1", "invalid field price", {})]
            )
        finally:
            await repository.close()

    async def drop() -> None:
        repository = Repository.from_settings(settings)
        await repository.client.drop_database(settings.mongo_database)
        await repository.close()

    asyncio.run(record())
    monkeypatch.setenv("RETAIL_HUB_MONGO_DATABASE", settings.mongo_database)
    try:
        runs_code = main(["connector", "runs", "--json"])
        runs = json.loads(capsys.readouterr().out)
        table_code = main(["connector", "runs"])
        table = capsys.readouterr().out
        quarantine_code = main(["connector", "quarantine", "prices", "--json"])
        quarantined = json.loads(capsys.readouterr().out)
    finally:
        asyncio.run(drop())

    assert (runs_code, table_code, quarantine_code) == (0, 0, 0)
    assert [r["status"] for r in runs] == ["guard_stopped"]
    assert "guard_stopped" in table
    assert [(q["key"], q["reason"]) for q in quarantined] == [
        ("k1", "invalid field price")
    ]
