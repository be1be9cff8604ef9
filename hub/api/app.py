"""Assemble the API from its routers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from hub.api import (
    buckets,
    changes,
    connectors,
    cursor,
    digest,
    errors,
    health,
    heartbeat,
    rejections,
)
from hub.api.change_cache import ChangeCache
from hub.api.metrics import ResponseCounter
from hub.api.pull_recorder import PULL_RECORD_SECONDS, PullRecorder
from hub.api.ratelimit import RateLimiter
from hub.api.state import ApiMetrics, ApiState
from hub.errors import RepositoryUnavailableError
from hub.repository import Repository
from hub.settings import Settings
from hub.stores import StoreRegistry

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

GZIP_MINIMUM_BYTES = 1024


def create_app(settings: Settings, repository: Repository | None = None) -> FastAPI:
    """Build the API on ``repository`` (by default, one made from ``settings``).

    A repository passed in stays open when the app stops; one the app made
    itself is closed.
    """
    repo = repository or Repository.from_settings(settings)
    owns_repository = repository is None
    recorder = PullRecorder(repo, PULL_RECORD_SECONDS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await repo.ensure_indexes()
        except RepositoryUnavailableError as exc:
            # The API starts anyway and responds 503 until the repository is back.
            logger.warning("starting without the repository: %s", exc)
        recorder.start()
        yield
        await recorder.stop()
        if owns_repository:
            await repo.close()

    app = FastAPI(
        title="retail-hub API",
        version="1",
        description="Changes of master data for stores that pull over HTTP.",
        lifespan=lifespan,
    )
    limiter = RateLimiter(settings.api_rate_per_second, settings.api_rate_burst)
    cache = ChangeCache(repo, settings.api_cache_documents)
    app.state.hub = ApiState(
        settings, repo, StoreRegistry(repo), ApiMetrics(), limiter, cache, recorder
    )
    app.add_middleware(ResponseCounter, metrics=app.state.hub.metrics)
    # Pages of documents compress well; small responses are not worth it.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    errors.install(app)
    app.include_router(changes.router)
    app.include_router(health.router)
    app.include_router(connectors.router)
    app.include_router(cursor.router)
    app.include_router(digest.router)
    app.include_router(heartbeat.router)
    app.include_router(rejections.router)
    app.include_router(buckets.router)
    return app
