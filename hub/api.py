"""The HTTP pull API: stores ask for the changes of an entity after a revision.

Every answer is JSON. Errors have the body ``{"error": code, "message": text}``:
404 for an unknown store or entity, 422 for an invalid parameter (the message
names it), and 503 with ``Retry-After`` while the repository is unreachable.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
)

from contracts import ChangesPage, ErrorBody, UnknownEntityError, get_entity
from hub.errors import RepositoryUnavailableError, StoreNotFoundError
from hub.repository import Repository
from hub.settings import Settings
from hub.stores import StoreRegistry

__all__ = ["MAX_PAGE_SIZE", "RETRY_AFTER_SECONDS", "create_app"]

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 5000
DEFAULT_PAGE_SIZE = 500
RETRY_AFTER_SECONDS = 5
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"

_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "Unknown store or entity."},
    422: {"model": ErrorBody, "description": "An invalid parameter, named."},
    503: {"model": ErrorBody, "description": "Repository down; see Retry-After."},
}


def create_app(settings: Settings, repository: Repository | None = None) -> FastAPI:
    """Build the pull API on ``repository`` (by default, one from ``settings``)."""
    repo = repository or Repository.from_settings(settings)
    owns_repository = repository is None
    registry = StoreRegistry(repo)
    metrics = CollectorRegistry()
    requests = Counter(
        "retail_hub_pull_requests",
        "Pull API requests by entity and HTTP status.",
        ["entity", "status"],
        registry=metrics,
    )
    served = Counter(
        "retail_hub_pull_documents",
        "Documents and tombstones served by the pull API, by entity.",
        ["entity"],
        registry=metrics,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await repo.ensure_indexes()
        except RepositoryUnavailableError as exc:
            # The API starts anyway and answers 503 until the repository is back.
            logger.warning("starting without the repository: %s", exc)
        yield
        if owns_repository:
            await repo.close()

    app = FastAPI(
        title="retail-hub pull API",
        version="1",
        description="Changes of master data for stores that pull over HTTP.",
        lifespan=lifespan,
    )
    _install_error_handlers(app)

    @app.get(
        "/v1/stores/{store_id}/changes/{entity}",
        response_model=ChangesPage,
        responses=_ERROR_RESPONSES,
        summary="Changes of one entity for one store after a revision",
    )
    async def get_changes(
        store_id: Annotated[str, Path(pattern=_ID_PATTERN)],
        entity: str,
        after: Annotated[int, Query(ge=0, description="Last revision held.")] = 0,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")
        ] = DEFAULT_PAGE_SIZE,
    ) -> ChangesPage:
        get_entity(entity)
        store = await registry.get(store_id)
        committed = await repo.committed_revision(entity)
        documents = await repo.changes_after(
            entity, after, limit + 1, up_to=committed, scopes=store.scopes
        )
        has_more = len(documents) > limit
        documents = documents[:limit]
        # Everything up to `committed` is written, so a store that has read
        # the last page may continue from there.
        next_after = max(after, committed)
        if has_more:
            next_after = documents[-1].rev
        requests.labels(entity, "200").inc()
        served.labels(entity).inc(len(documents))
        return ChangesPage(
            store_id=store_id,
            entity=entity,
            documents=documents,
            next_after=next_after,
            has_more=has_more,
            hub_revision=committed,
        )

    @app.get("/v1/health", summary="Whether the repository answers")
    async def health() -> dict[str, str]:
        await repo.ping()
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    return app


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = ErrorBody(error=code, message=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers or None)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][-1]) if error["loc"] else "request"
            value = error.get("input")
            problems.append(f"{name}={value!r}: {error['msg']}")
        return _error(
            422, "invalid_parameter", "invalid parameter " + "; ".join(problems)
        )

    @app.exception_handler(StoreNotFoundError)
    async def store_not_found(
        request: Request, exc: StoreNotFoundError
    ) -> JSONResponse:
        return _error(404, "store_not_found", str(exc))

    @app.exception_handler(UnknownEntityError)
    async def entity_not_found(
        request: Request, exc: UnknownEntityError
    ) -> JSONResponse:
        return _error(404, "entity_not_found", str(exc))

    @app.exception_handler(RepositoryUnavailableError)
    async def repository_down(
        request: Request, exc: RepositoryUnavailableError
    ) -> JSONResponse:
        logger.error("answering 503 to %s: %s", request.url.path, exc)
        return _error(
            503,
            "repository_unavailable",
            f"the hub's repository is unreachable; retry in {RETRY_AFTER_SECONDS}s",
            **{"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
