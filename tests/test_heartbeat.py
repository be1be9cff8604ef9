"""Heartbeats of store agents and the hub's answers, on the real repository."""

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from hub.api import create_app
from hub.delivery import DeliveryState
from hub.repository import Repository
from hub.serving import BackgroundServer, free_port
from hub.settings import Settings
from store_agent.agent import StoreAgent
from store_agent.settings import AgentSettings
from tests.delivery_support import bearer, insert_store, item_change, wait_for

pytestmark = pytest.mark.integration

BEAT = {"agent_version": "1.0", "mode": "amqp"}


@pytest.fixture
async def api(settings: Settings, repository: Repository) -> AsyncIterator[str]:
    async with BackgroundServer(create_app(settings, repository)) as server:
        yield server.url


async def test_heartbeat_is_stored(api: str, repository: Repository) -> None:
    store, token = await insert_store(repository, prefix="h")
    body = {**BEAT, "applied": {"items": 7}}

    async with httpx.AsyncClient(base_url=api, headers=bearer(token)) as http:
        response = await http.post(f"/v1/stores/{store.store_id}/heartbeat", json=body)

    state = await DeliveryState(repository).state(store.store_id)
    assert response.status_code == 200
    assert response.json()["catch_up"] == []
    assert response.json()["replay_from"] == {}
    assert state["heartbeat"]["applied"] == {"items": 7}
    assert state["heartbeat"]["agent_version"] == "1.0"
    assert state["heartbeat"]["mode"] == "amqp"


async def test_heartbeat_needs_token(api: str, repository: Repository) -> None:
    store, _ = await insert_store(repository, prefix="h")

    async with httpx.AsyncClient(base_url=api) as http:
        response = await http.post(f"/v1/stores/{store.store_id}/heartbeat", json=BEAT)

    assert response.status_code == 401


async def test_invalid_heartbeat_is_422(api: str, repository: Repository) -> None:
    store, token = await insert_store(repository, prefix="h")

    async with httpx.AsyncClient(base_url=api, headers=bearer(token)) as http:
        response = await http.post(
            f"/v1/stores/{store.store_id}/heartbeat", json={**BEAT, "mode": "fax"}
        )

    assert response.status_code == 422
    assert "mode=" in response.json()["message"]


async def test_catch_up_asked_until_applied(api: str, repository: Repository) -> None:
    store, token = await insert_store(repository, prefix="h")
    delivery = DeliveryState(repository)
    await delivery.mark_catching_up(store.store_id, "items", since=10)
    path = f"/v1/stores/{store.store_id}/heartbeat"

    async with httpx.AsyncClient(base_url=api, headers=bearer(token)) as http:
        behind = await http.post(path, json={**BEAT, "applied": {"items": 3}})
        # The backlog check bound the queue again at revision 12.
        await delivery.mark_rebound(store.store_id, "items", since=10, rebound_at=12)
        between = await http.post(path, json={**BEAT, "applied": {"items": 11}})
        done = await http.post(path, json={**BEAT, "applied": {"items": 12}})

    state = await delivery.state(store.store_id)
    assert behind.json()["catch_up"] == ["items"]
    assert between.json()["catch_up"] == ["items"]
    assert done.json()["catch_up"] == []
    assert state.get("catching_up", {}) == {}


async def test_replay_asked_until_reported(api: str, repository: Repository) -> None:
    store, token = await insert_store(repository, prefix="h")
    delivery = DeliveryState(repository)
    await delivery.request_replay(store.store_id, "items", 4)
    path = f"/v1/stores/{store.store_id}/heartbeat"

    async with httpx.AsyncClient(base_url=api, headers=bearer(token)) as http:
        asked = await http.post(path, json=BEAT)
        other = await http.post(path, json={**BEAT, "replayed": {"items": 2}})
        reported = await http.post(path, json={**BEAT, "replayed": {"items": 4}})

    assert asked.json()["replay_from"] == {"items": 4}
    assert other.json()["replay_from"] == {"items": 4}
    assert reported.json()["replay_from"] == {}


def _agent(
    store_id: str, token: str, hub_url: str, database: Path, mode: str = "pull"
) -> StoreAgent:
    return StoreAgent(
        AgentSettings(
            store_id=store_id,
            mode=mode,  # type: ignore[arg-type]
            hub_url=hub_url,
            token=token,  # type: ignore[arg-type]
            database=database,
            pull_interval_seconds=0.2,
            heartbeat_interval_seconds=0.2,
        )
    )


async def test_agent_sends_heartbeats(
    api: str, repository: Repository, tmp_path: Path
) -> None:
    store, token = await insert_store(repository, transport="pull", prefix="h")
    await repository.write_changes("items", [item_change("a"), item_change("b")])
    delivery = DeliveryState(repository)

    async def reported_revision_2() -> bool:
        state = await delivery.state(store.store_id)
        return state.get("heartbeat", {}).get("applied", {}).get("items") == 2

    agent = _agent(store.store_id, token, api, tmp_path / "s.sqlite3")
    async with agent:
        await wait_for(reported_revision_2, "a heartbeat with revision 2")
        assert agent.heartbeats is not None
        await wait_for(
            lambda: _true(agent.heartbeats is not None and agent.heartbeats.sent >= 3),
            "three heartbeats",
        )

    state = await delivery.state(store.store_id)
    assert state["heartbeat"]["mode"] == "pull"


async def _true(value: bool) -> bool:
    return value


async def test_failed_heartbeat_is_retried(
    repository: Repository, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, token = await insert_store(repository, prefix="h")
    closed = f"http://127.0.0.1:{free_port()}"
    caplog.set_level(logging.WARNING, logger="store_agent.heartbeat")

    agent = _agent(store.store_id, token, closed, tmp_path / "s.sqlite3")
    async with agent:
        await wait_for(
            lambda: _true(
                agent.heartbeats is not None and agent.heartbeats.failed >= 2
            ),
            "two failed heartbeats",
        )

    failures = [r for r in caplog.records if r.name == "store_agent.heartbeat"]
    assert len(failures) >= 2
    assert "heartbeat failed" in failures[0].getMessage()


async def test_agent_replays_when_asked(
    api: str, repository: Repository, tmp_path: Path
) -> None:
    store, token = await insert_store(repository, transport="pull", prefix="h")
    await repository.write_changes("items", [item_change(f"k{i}") for i in range(5)])
    delivery = DeliveryState(repository)
    database = tmp_path / "s.sqlite3"

    agent = _agent(store.store_id, token, api, database)
    async with agent:
        local = agent.local_store
        await wait_for(lambda: _true(local.count("items") == 5), "the first pull")
        # The store lost a document; an operator asks for a replay.
        with local._lock:
            local._connection.execute("DELETE FROM documents WHERE key = 'k3'")
        await delivery.request_replay(store.store_id, "items", 2)

        async def replay_finished() -> bool:
            state = await delivery.state(store.store_id)
            return local.count("items") == 5 and not state.get("replay_from")

        await wait_for(replay_finished, "the replay")


def _busy_for(monkeypatch: pytest.MonkeyPatch, busy_failures: int) -> Callable[[], int]:
    """Fail the first ``busy_failures`` find_one_and_update calls as busy.

    The error is the one FerretDB's SQLite backend returns under write load.
    Returns a counter of the calls.
    """
    calls = 0
    original = AsyncCollection.find_one_and_update

    async def reject_as_busy(
        self: AsyncCollection[Any], *args: Any, **kwargs: Any
    ) -> Any:
        nonlocal calls
        calls += 1
        if calls <= busy_failures:
            message = "database is locked (5) (SQLITE_BUSY)"
            raise OperationFailure(
                message, code=1, details={"ok": 0.0, "errmsg": message, "code": 1}
            )
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "find_one_and_update", reject_as_busy)
    return lambda: calls


async def test_busy_repository_write_is_retried(
    api: str, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, token = await insert_store(repository, prefix="h")
    calls = _busy_for(monkeypatch, busy_failures=2)

    async with httpx.AsyncClient(base_url=api, headers=bearer(token)) as http:
        response = await http.post(
            f"/v1/stores/{store.store_id}/heartbeat",
            json={**BEAT, "applied": {"items": 3}},
        )

    assert response.status_code == 200
    assert calls() == 3
    state = await DeliveryState(repository).state(store.store_id)
    assert state["heartbeat"]["applied"] == {"items": 3}


async def test_busy_repository_answers_503(
    api: str, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, token = await insert_store(repository, prefix="h")
    _busy_for(monkeypatch, busy_failures=1000)

    async with httpx.AsyncClient(base_url=api, headers=bearer(token)) as http:
        response = await http.post(
            f"/v1/stores/{store.store_id}/heartbeat",
            json={**BEAT, "applied": {"items": 3}},
        )

    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json()["error"] == "repository_unavailable"
    monkeypatch.undo()
    assert "heartbeat" not in await DeliveryState(repository).state(store.store_id)
