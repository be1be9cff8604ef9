"""Pull API benchmark: many stores pulling pages from the hub's HTTP API.

The server runs in a child process, so the client and the server each get a
core of their own instead of sharing one event loop. The baseline is a bare
FastAPI endpoint on the same uvicorn setup that returns the hub's own
response bytes for each page, compressed by the same gzip middleware as the
hub's, so the difference is the hub's work per request.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import httpx
from fastapi import FastAPI, Response
from fastapi.middleware.gzip import GZipMiddleware

from bench.child import ChildServer, serve_until_stopped
from bench.common import BenchResult, Sizes, Stopwatch, bench_settings, generate_items
from contracts import document_hash
from hub.api import create_app
from hub.api.app import GZIP_MINIMUM_BYTES
from hub.credentials import hash_token
from hub.repository import PendingChange, Repository
from hub.settings import Settings

__all__ = ["run_pull_api"]

logger = logging.getLogger("bench")

ENTITY = "items"
PAGE_SIZE = 500
_ATTEMPTS = 3


def _bare_app(pages: dict[int, bytes]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)

    @app.get("/v1/stores/{store_id}/changes/{entity}")
    async def get_changes(
        store_id: str, entity: str, after: int = 0, limit: int = PAGE_SIZE
    ) -> Response:
        return Response(pages[after], media_type="application/json")

    return app


def _serve(
    kind: str, database: str, pages: dict[int, bytes], seconds: float, pipe: Connection
) -> None:
    """Serve the hub API or the bare endpoint in a child process until stopped."""
    app = create_app(Settings(mongo_database=database)) if kind == "hub" else None
    asyncio.run(serve_until_stopped(app or _bare_app(pages), pipe, seconds))


def _token(store_id: str) -> str:
    # Tokens of throwaway stores in a database that is dropped afterwards.
    return f"bench-token-{store_id}"


def _auth(store_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(store_id)}"}


async def _capture_pages(url: str, store_id: str, max_pages: int) -> dict[int, bytes]:
    """Pull one store's pages from revision 0; return each body by its ``after``."""
    pages: dict[int, bytes] = {}
    after = 0
    async with httpx.AsyncClient(
        base_url=url, timeout=60, headers=_auth(store_id)
    ) as client:
        for _ in range(max_pages):
            response = await client.get(
                f"/v1/stores/{store_id}/changes/{ENTITY}",
                params={"after": after, "limit": PAGE_SIZE},
            )
            response.raise_for_status()
            pages[after] = response.content
            body = response.json()
            if not body["has_more"]:
                break
            after = body["next_after"]
    return pages


async def _pull_load(
    url: str, store_ids: list[str], afters: list[int], seconds: float
) -> dict[str, Any]:
    """Let every store pull the pages ``afters`` at once; return counts and latency."""
    latencies: list[float] = []
    errors = 0
    retried = 0
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(
        max_connections=len(store_ids), max_keepalive_connections=len(store_ids)
    )

    async def get(
        client: httpx.AsyncClient, store_id: str, after: int
    ) -> httpx.Response:
        nonlocal retried
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return await client.get(
                    f"/v1/stores/{store_id}/changes/{ENTITY}",
                    params={"after": after, "limit": PAGE_SIZE},
                    headers=_auth(store_id),
                )
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # uvicorn closes a keep-alive connection after 5 s without a
                # request; a request sent as it closes fails and is resent.
                if attempt == _ATTEMPTS:
                    raise
                retried += 1
        raise AssertionError("unreachable")

    async def pull(client: httpx.AsyncClient, store_id: str) -> None:
        nonlocal errors
        for after in afters:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            response = await get(client, store_id, after)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1
                statuses[response.status_code] = (
                    statuses.get(response.status_code, 0) + 1
                )

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        with Stopwatch() as watch:
            await asyncio.gather(*(pull(client, store_id) for store_id in store_ids))

    latencies.sort()
    expected = len(store_ids) * len(afters)
    return {
        "requests": len(latencies),
        "expected_requests": expected,
        "errors": errors,
        "retried": retried,
        "error_statuses": statuses,
        "seconds": watch.seconds,
        "requests_per_second": len(latencies) / watch.seconds,
        "p50_seconds": latencies[len(latencies) // 2],
        "p99_seconds": latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)],
    }


async def _seed(repository: Repository, documents: int, stores: list[str]) -> None:
    # About 1% of generated items carry a deletion mark; ask for a few more.
    _, mapped = generate_items(documents + documents // 20 + 10)
    keys = sorted(mapped.documents)[:documents]
    changes = []
    for key in keys:
        scope, data = mapped.documents[key]
        changes.append(PendingChange(key, document_hash(data), scope, data, False))
    await repository.ensure_indexes()
    await repository.write_changes(ENTITY, changes)
    now = datetime.now(UTC)
    await repository.db.stores.insert_many(
        [
            {
                "_id": store_id,
                "name": f"Benchmark store {store_id}",
                "groups": [],
                "transport": "pull",
                "created_at": now,
                "token_hash": hash_token(_token(store_id)),
            }
            for store_id in stores
        ]
    )


async def run_pull_api(sizes: Sizes) -> BenchResult:
    """Time K stores pulling pages of the hub's API against a bare endpoint."""
    settings = bench_settings("pull")
    stores = [f"pull{number:05}" for number in range(sizes.pull_stores)]
    documents = sizes.pull_pages * PAGE_SIZE
    child_seconds = sizes.time_limit_seconds * 3 + 120
    repository = Repository.from_settings(settings)
    try:
        await _seed(repository, documents, stores)
        async with ChildServer(
            _serve, ("hub", settings.mongo_database, {}, child_seconds)
        ) as server:
            pages = await _capture_pages(server.url, stores[0], sizes.pull_pages + 1)
            afters = list(pages)
            logger.info(
                "pull_api: %d stores pull %d pages each from the hub API",
                len(stores),
                len(afters),
            )
            ours = await _pull_load(
                server.url, stores, afters, sizes.time_limit_seconds
            )
        logger.info("pull_api: hub API %s", _summary(ours))

        async with ChildServer(
            _serve, ("bare", settings.mongo_database, pages, child_seconds)
        ) as server:
            await _capture_pages(server.url, stores[0], sizes.pull_pages + 1)
            baseline = await _pull_load(
                server.url, stores, afters, sizes.time_limit_seconds
            )
        logger.info("pull_api: bare endpoint %s", _summary(baseline))
    finally:
        await repository.client.drop_database(settings.mongo_database)
        await repository.close()

    return BenchResult(
        name="pull_api",
        path=f"GET changes pages of {PAGE_SIZE}, concurrent stores, uvicorn",
        unit="requests/s",
        ours=ours["requests_per_second"],
        baseline=baseline["requests_per_second"],
        target=0.5,
        comparison=">=",
        details={
            "stores": len(stores),
            "documents": documents,
            "pages_per_store": len(afters),
            "page_bytes": [len(body) for body in pages.values()],
            "ours": ours,
            "baseline": baseline,
            "p99_ratio": ours["p99_seconds"] / baseline["p99_seconds"],
        },
    )


def _summary(load: dict[str, Any]) -> str:
    return (
        f"{load['requests']}/{load['expected_requests']} requests in "
        f"{load['seconds']:.1f}s ({load['requests_per_second']:.0f}/s), "
        f"p50 {load['p50_seconds'] * 1000:.0f} ms, "
        f"p99 {load['p99_seconds'] * 1000:.0f} ms, {load['errors']} errors"
    )
