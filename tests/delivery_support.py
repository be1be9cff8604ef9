"""Helpers of the delivery tests: stores with tokens, and bounded waits."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from contracts import SCOPE_ALL, document_hash
from hub.credentials import hash_token, new_secret
from hub.repository import PendingChange, Repository
from hub.stores import StoreRecord
from tests.conftest import unique
from tests.test_store_agent_support import item_data


async def insert_store(
    repository: Repository,
    groups: list[str] | None = None,
    transport: str = "amqp",
    prefix: str = "d",
) -> tuple[StoreRecord, str]:
    """Insert a store document with a new API token; return the store and token.

    No queue and no broker user is made; tests that need queues declare them.
    """
    token = new_secret()
    record = StoreRecord(
        store_id=unique(prefix),
        name="delivery test store",
        groups=groups or [],
        transport=transport,  # type: ignore[arg-type]
    )
    document = {
        **record.model_dump(exclude={"store_id"}),
        "_id": record.store_id,
        "token_hash": hash_token(token),
    }
    await repository.db.stores.insert_one(document)
    return record, token


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def wait_for(
    check: Callable[[], Awaitable[bool]], what: str, seconds: float = 30.0
) -> None:
    """Poll ``check`` every 0.1 s until it returns True; raise after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def item_change(key: str, version: int = 1, scope: str = SCOPE_ALL) -> PendingChange:
    """Return a valid item change of ``key``; each ``version`` has other content."""
    data = item_data(key, name=f"Milk 1 l, version {version}")
    return PendingChange(key, document_hash(data), scope, data)
