"""Per-store security: API tokens, rate limit, gzip and broker permissions."""

from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused

from contracts import SCOPE_ALL, document_hash
from hub.api import create_app
from hub.api.ratelimit import RateLimitedError, RateLimiter
from hub.credentials import StoreSecrets, amqp_url_with_user
from hub.repository import PendingChange, Repository
from hub.runtime import Broker
from hub.serving import BackgroundServer
from hub.settings import Settings
from hub.store_admin import rotate_store_token
from hub.stores import StoreRecord, StoreRegistry
from tests.conftest import unique

pytestmark = pytest.mark.integration

ITEMS = "items"


async def _add_store(
    settings: Settings, repository: Repository, broker: Broker, queues: list[str]
) -> tuple[StoreRecord, StoreSecrets]:
    store = StoreRecord(store_id=unique("auth-"), name="auth test store")
    queues.append(f"store.{store.store_id}.{ITEMS}")
    registration = await StoreRegistry(repository).register(
        store, broker.channel, broker.exchange, settings
    )
    assert registration.secrets is not None
    return registration.record, registration.secrets


def _bearer(secrets: StoreSecrets) -> dict[str, str]:
    return {"Authorization": f"Bearer {secrets.api_token}"}


@pytest.fixture
async def api(
    settings: Settings, repository: Repository
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        BackgroundServer(create_app(settings, repository)) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        yield http


async def test_missing_token_is_401(
    api: httpx.AsyncClient,
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store, _ = await _add_store(settings, repository, broker, cleanup_queues)

    response = await api.get(f"/v1/stores/{store.store_id}/changes/items")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "invalid_token"


async def test_unknown_token_is_401(
    api: httpx.AsyncClient,
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store, _ = await _add_store(settings, repository, broker, cleanup_queues)

    response = await api.get(
        f"/v1/stores/{store.store_id}/changes/items",
        headers={"Authorization": "Bearer not-a-token"},
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_other_stores_token_is_403(
    api: httpx.AsyncClient,
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store_a, secrets_a = await _add_store(settings, repository, broker, cleanup_queues)
    store_b, _ = await _add_store(settings, repository, broker, cleanup_queues)

    own = await api.get(
        f"/v1/stores/{store_a.store_id}/changes/items", headers=_bearer(secrets_a)
    )
    other = await api.get(
        f"/v1/stores/{store_b.store_id}/changes/items", headers=_bearer(secrets_a)
    )
    unknown = await api.get(
        "/v1/stores/nobody/changes/items", headers=_bearer(secrets_a)
    )

    assert own.status_code == 200
    assert other.status_code == 403
    assert other.json()["error"] == "forbidden"
    assert store_b.store_id in other.json()["message"]
    assert unknown.status_code == 404


async def test_rotated_token_replaces_old(
    api: httpx.AsyncClient,
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store, old = await _add_store(settings, repository, broker, cleanup_queues)
    path = f"/v1/stores/{store.store_id}/changes/items"

    new = await rotate_store_token(StoreRegistry(repository), store.store_id, settings)

    assert new.api_token != old.api_token
    assert (await api.get(path, headers=_bearer(old))).status_code == 401
    assert (await api.get(path, headers=_bearer(new))).status_code == 200


async def test_rate_limit_answers_429(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store, secrets = await _add_store(settings, repository, broker, cleanup_queues)
    slow = settings.model_copy(update={"api_rate_per_second": 0.5, "api_rate_burst": 3})
    path = f"/v1/stores/{store.store_id}/changes/items"

    async with (
        BackgroundServer(create_app(slow, repository)) as server,
        httpx.AsyncClient(base_url=server.url, headers=_bearer(secrets)) as http,
    ):
        statuses = [(await http.get(path)).status_code for _ in range(3)]
        limited = await http.get(path)

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert limited.headers["Retry-After"] == "2"


def test_rate_limiter_refills_over_time() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])

    limiter.acquire("a")
    limiter.acquire("a")
    with pytest.raises(RateLimitedError) as raised:
        limiter.acquire("a")
    limiter.acquire("b")
    now[0] += 0.5
    limiter.acquire("a")

    assert raised.value.retry_after_seconds == 1


async def test_large_page_is_gzipped(
    api: httpx.AsyncClient,
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store, secrets = await _add_store(settings, repository, broker, cleanup_queues)
    data = [{"ref": f"k{i}", "name": f"item {i} " * 5} for i in range(50)]
    await repository.write_changes(
        ITEMS,
        [PendingChange(d["ref"], document_hash(d), SCOPE_ALL, d) for d in data],
    )
    path = f"/v1/stores/{store.store_id}/changes/items"

    large = await api.get(path, headers={**_bearer(secrets), "Accept-Encoding": "gzip"})
    small = await api.get(
        path,
        params={"after": 50},
        headers={**_bearer(secrets), "Accept-Encoding": "gzip"},
    )

    assert large.status_code == 200
    assert large.headers["Content-Encoding"] == "gzip"
    assert len(large.json()["documents"]) == 50
    assert "Content-Encoding" not in small.headers


async def test_openapi_documents_auth_errors(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()

    route = document["paths"]["/v1/stores/{store_id}/changes/{entity}"]["get"]

    assert {"401", "403", "404", "409", "429"} <= route["responses"].keys()
    assert route["security"] == [{"HTTPBearer": []}]


async def _ignore(message: AbstractIncomingMessage) -> None:
    """Leave a delivered message unacknowledged; the broker requeues it."""


async def _refused(url: str, action: str, queue: str, exchange: str) -> bool:
    """Try ``action`` on ``queue`` as the user of ``url``; return whether refused."""
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        try:
            if action == "consume":
                handle = await channel.get_queue(queue, ensure=False)
                await handle.consume(_ignore)
            elif action == "declare":
                await channel.declare_queue(queue, durable=True)
            elif action == "bind":
                handle = await channel.get_queue(queue, ensure=False)
                await handle.bind(exchange, routing_key="items.all")
        except ChannelAccessRefused:
            return True
    return False


async def test_broker_user_reads_only_own_queues(
    settings: Settings,
    repository: Repository,
    broker: Broker,
    cleanup_queues: list[str],
) -> None:
    store_a, secrets_a = await _add_store(settings, repository, broker, cleanup_queues)
    store_b, _ = await _add_store(settings, repository, broker, cleanup_queues)
    assert secrets_a.broker_user is not None
    assert secrets_a.broker_password is not None
    url_a = amqp_url_with_user(
        settings.amqp_url, secrets_a.broker_user, secrets_a.broker_password
    )
    own = f"store.{store_a.store_id}.{ITEMS}"
    other = f"store.{store_b.store_id}.{ITEMS}"
    exchange = settings.exchange

    assert not await _refused(url_a, "consume", own, exchange)
    assert await _refused(url_a, "consume", other, exchange)
    assert await _refused(url_a, "declare", f"store.{store_a.store_id}.new", exchange)
    assert await _refused(url_a, "declare", unique("any-queue-"), exchange)
    assert await _refused(url_a, "bind", own, exchange)
    assert await _refused(url_a, "bind", other, exchange)
