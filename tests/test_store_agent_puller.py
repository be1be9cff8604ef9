"""Tests of the store agent's pull client against a fake hub served by uvicorn.

The fake hub (tests.test_store_agent_support.FakeHub) implements the pull API
contract, and BackgroundServer runs it on a free loopback port.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.serving import BackgroundServer, free_port
from store_agent.agent import StoreAgent
from store_agent.local_store import LocalStore
from store_agent.puller import HubError, Puller, RetryPolicy
from store_agent.settings import AgentSettings
from tests.test_store_agent_support import FakeHub, live, tombstone, wait_until

STORE_ID = "0042"
FAST_RETRY = RetryPolicy(attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.05)


@dataclass
class PullSetup:
    hub: FakeHub
    url: str
    store: LocalStore
    puller: Puller


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[PullSetup]:
    hub = FakeHub(STORE_ID)
    with LocalStore(tmp_path / "store.sqlite3") as store:
        async with (
            BackgroundServer(hub.app) as server,
            Puller(
                server.url, STORE_ID, store, page_size=5, retry=FAST_RETRY
            ) as puller,
        ):
            yield PullSetup(hub, server.url, store, puller)


async def test_pull_pages_until_no_more(setup: PullSetup) -> None:
    setup.hub.add(*(live(f"k{i}", i) for i in range(1, 13)))

    result = await setup.puller.pull_once("items")

    assert result.pages == 3
    assert result.documents == 12
    assert result.applied == 12
    assert result.skipped_stale == 0
    assert result.applied_revision == 12
    assert [request["after"] for request in setup.hub.requests] == [0, 5, 10]
    assert all(request["limit"] == 5 for request in setup.hub.requests)
    assert setup.store.count("items") == 12
    assert setup.store.applied_revision("items") == 12


async def test_pull_empty_page(setup: PullSetup) -> None:
    setup.hub.add(live("a", 1), live("b", 2))
    await setup.puller.pull_once("items")

    result = await setup.puller.pull_once("items")

    assert result.pages == 1
    assert result.documents == 0
    assert result.applied == 0
    assert result.applied_revision == 2
    assert setup.hub.requests[-1]["after"] == 2
    assert setup.store.count("items") == 2


async def test_pull_starts_after_applied_revision(setup: PullSetup) -> None:
    setup.hub.add(
        live("a", 1), live("b", 2), live("a", 3, "Renamed"), tombstone("b", 4)
    )
    setup.store.apply("items", [live("a", 1), live("b", 2)])

    result = await setup.puller.pull_once("items")

    assert setup.hub.requests[0]["after"] == 2
    assert result.documents == 2
    assert result.applied == 2
    live_documents = setup.store.live_documents("items")
    assert set(live_documents) == {"a"}
    assert live_documents["a"].data is not None
    assert live_documents["a"].data["name"] == "Renamed"


async def test_pull_moves_to_next_after(setup: PullSetup) -> None:
    setup.hub.add(live("a", 1))
    setup.hub.hub_revision = 40

    result = await setup.puller.pull_once("items")

    assert result.applied_revision == 40
    assert setup.store.applied_revision("items") == 40


async def test_pull_retries_after_503(
    setup: PullSetup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.hub.add(live("a", 1))
    setup.hub.unavailable = 1

    with caplog.at_level(logging.WARNING, logger="store_agent.puller"):
        result = await setup.puller.pull_once("items")

    assert result.applied == 1
    assert len(setup.hub.requests) == 2
    assert "503 repository_unavailable: try again later" in caplog.text
    assert "retry 1 of 2" in caplog.text


async def test_pull_gives_up_after_retries(setup: PullSetup) -> None:
    setup.hub.add(live("a", 1))
    setup.hub.unavailable = 10

    with pytest.raises(HubError, match="after 3 attempts") as raised:
        await setup.puller.pull_once("items")

    assert raised.value.status == 503
    assert len(setup.hub.requests) == 3
    assert setup.store.count("items") == 0


async def test_pull_unknown_store_not_retried(setup: PullSetup) -> None:
    async with Puller(setup.url, "9999", setup.store, retry=FAST_RETRY) as puller:
        with pytest.raises(HubError, match="unknown store '9999'") as raised:
            await puller.pull_once("items")

    assert raised.value.status == 404
    assert raised.value.code == "store_not_found"
    assert len(setup.hub.requests) == 1


async def test_pull_bad_limit_reports_422(setup: PullSetup) -> None:
    async with Puller(setup.url, STORE_ID, setup.store, page_size=0) as puller:
        with pytest.raises(HubError, match="invalid limit 0") as raised:
            await puller.pull_once("items")

    assert raised.value.status == 422
    assert raised.value.code == "invalid_parameter"


async def test_pull_rejects_page_with_bad_hash(setup: PullSetup) -> None:
    setup.hub.add(live("a", 1), live("b", 2).model_copy(update={"hash": "f" * 64}))

    with pytest.raises(HubError, match="'b' has a hash"):
        await setup.puller.pull_once("items")

    assert setup.store.count("items") == 0
    assert setup.store.applied_revision("items") == 0


async def test_pull_keeps_pages_before_error(setup: PullSetup) -> None:
    setup.hub.add(*(live(f"k{i}", i) for i in range(1, 8)))
    setup.hub.add(live("bad", 8).model_copy(update={"hash": "f" * 64}))

    with pytest.raises(HubError):
        await setup.puller.pull_once("items")

    assert setup.store.count("items") == 5
    assert setup.store.applied_revision("items") == 5


async def test_pull_refused_connection(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with LocalStore(tmp_path / "store.sqlite3") as store:
        async with Puller(url, STORE_ID, store, retry=FAST_RETRY) as puller:
            with pytest.raises(HubError, match="ConnectError") as raised:
                await puller.pull_once("items")

    assert raised.value.status is None


def test_retry_delay_honors_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_delay_seconds=0.5, max_delay_seconds=4)

    assert policy.delay(1, None) == 0.5
    assert policy.delay(3, None) == 2.0
    assert policy.delay(1, 3.0) == 3.0
    assert policy.delay(1, 0.0) == 0.5
    assert policy.delay(6, None) == 4
    assert policy.delay(1, 3600.0) == 4


async def test_agent_pull_mode_follows_hub(tmp_path: Path) -> None:
    hub = FakeHub(STORE_ID)
    hub.add(live("a", 1), live("b", 2))
    async with BackgroundServer(hub.app) as server:
        settings = AgentSettings(
            store_id=STORE_ID,
            mode="pull",
            hub_url=server.url,
            database=tmp_path / "store.sqlite3",
            pull_interval_seconds=0.05,
        )
        agent = StoreAgent(settings, retry=FAST_RETRY)
        await agent.start()
        try:
            store = agent.local_store
            await wait_until(lambda: store.count("items") == 2, "the first pull")

            hub.add(tombstone("a", 3), live("c", 4))
            await wait_until(
                lambda: store.applied_revision("items") == 4, "the second pull"
            )
            assert set(store.live_documents("items")) == {"b", "c"}
        finally:
            await agent.stop()


async def test_agent_pull_loop_survives_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = FakeHub(STORE_ID)
    hub.add(live("a", 1))
    hub.failures = 2
    async with BackgroundServer(hub.app) as server:
        settings = AgentSettings(
            store_id=STORE_ID,
            mode="pull",
            hub_url=server.url,
            database=tmp_path / "store.sqlite3",
            pull_interval_seconds=0.05,
        )
        agent = StoreAgent(settings, retry=FAST_RETRY)
        with caplog.at_level(logging.ERROR, logger="store_agent.agent"):
            await agent.start()
            try:
                store = agent.local_store
                await wait_until(
                    lambda: store.count("items") == 1, "a pull after errors"
                )
            finally:
                await agent.stop()

    assert "pull of items failed (status 500)" in caplog.text
    assert "internal: the fake hub failed on purpose" in caplog.text


async def test_agent_stopped_rejects_local_store(tmp_path: Path) -> None:
    settings = AgentSettings(store_id=STORE_ID, database=tmp_path / "x.sqlite3")
    agent = StoreAgent(settings)

    with pytest.raises(RuntimeError, match="not started"):
        _ = agent.local_store


async def test_agent_run_stops_on_request(tmp_path: Path) -> None:
    hub = FakeHub(STORE_ID)
    hub.add(live("a", 1))
    async with BackgroundServer(hub.app) as server:
        settings = AgentSettings(
            store_id=STORE_ID,
            mode="pull",
            hub_url=server.url,
            database=tmp_path / "store.sqlite3",
        )
        agent = StoreAgent(settings, retry=FAST_RETRY)
        running = asyncio.create_task(agent.run())
        await wait_until(lambda: bool(hub.requests), "the first pull")

        agent.request_stop()
        await asyncio.wait_for(running, timeout=10)

    with pytest.raises(RuntimeError, match="not started"):
        _ = agent.local_store


async def test_agent_run_stops_on_cancel(tmp_path: Path) -> None:
    hub = FakeHub(STORE_ID)
    async with BackgroundServer(hub.app) as server:
        settings = AgentSettings(
            store_id=STORE_ID,
            mode="pull",
            hub_url=server.url,
            database=tmp_path / "store.sqlite3",
        )
        agent = StoreAgent(settings, retry=FAST_RETRY)
        running = asyncio.create_task(agent.run())
        await wait_until(lambda: bool(hub.requests), "the first pull")

        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await agent.stop()

    with pytest.raises(RuntimeError, match="not started"):
        _ = agent.local_store


async def test_agent_context_manager(tmp_path: Path) -> None:
    hub = FakeHub(STORE_ID)
    hub.add(live("a", 1), live("b", 2))
    async with BackgroundServer(hub.app) as server:
        settings = AgentSettings(
            store_id=STORE_ID,
            mode="pull",
            hub_url=server.url,
            database=tmp_path / "store.sqlite3",
            pull_interval_seconds=3600,
        )
        async with StoreAgent(settings, retry=FAST_RETRY) as agent:
            results = await agent.pull_once()

            assert [result.entity for result in results] == ["items"]
            assert agent.local_store.count("items") == 2
