"""Error responses of the API, all with the body ``{"error", "message"}``."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from contracts import ErrorBody, UnknownEntityError
from hub.api.ratelimit import RateLimitedError
from hub.errors import (
    InvalidTokenError,
    RepositoryUnavailableError,
    ResyncRequiredError,
    StoreAccessDeniedError,
    StoreNotFoundError,
)

__all__ = [
    "AUTH_RESPONSES",
    "ERROR_RESPONSES",
    "RESYNC_FROM_HEADER",
    "RETRY_AFTER_SECONDS",
    "STORE_RESPONSES",
    "error_response",
    "install",
]

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

# The error responses of routes that read the repository, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "Unknown store or entity."},
    422: {"model": ErrorBody, "description": "An invalid parameter, named."},
    503: {"model": ErrorBody, "description": "Repository down; see Retry-After."},
}

# The error responses of routes that take their store through require_store.
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid API token."},
    403: {"model": ErrorBody, "description": "The token of another store."},
    429: {"model": ErrorBody, "description": "Too many requests; see Retry-After."},
}

# The error responses of routes that read a store's data from the repository.
STORE_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    **AUTH_RESPONSES,
}

# The header of a 409 resync_required response: the ``after`` to pull from.
RESYNC_FROM_HEADER = "Resync-From"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Return an error answer with the API's error body."""
    body = ErrorBody(error=code, message=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


async def _invalid_parameter(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        name = str(error["loc"][-1]) if error["loc"] else "request"
        problems.append(f"{name}={error.get('input')!r}: {error['msg']}")
    return error_response(
        422, "invalid_parameter", "invalid parameter " + "; ".join(problems)
    )


async def _store_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "store_not_found", str(exc))


async def _entity_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "entity_not_found", str(exc))


async def _repository_down(request: Request, exc: Exception) -> JSONResponse:
    logger.error("responding 503 to %s: %s", request.url.path, exc)
    return error_response(
        503,
        "repository_unavailable",
        f"the hub's repository is unreachable or busy; retry in {RETRY_AFTER_SECONDS}s",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _invalid_token(request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        401, "invalid_token", str(exc), {"WWW-Authenticate": "Bearer"}
    )


async def _access_denied(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("responding 403 to %s: %s", request.url.path, exc)
    return error_response(403, "forbidden", str(exc))


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimitedError)
    return error_response(
        429,
        "too_many_requests",
        str(exc),
        {"Retry-After": str(exc.retry_after_seconds)},
    )


async def _resync_required(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ResyncRequiredError)
    return error_response(
        409, "resync_required", str(exc), {RESYNC_FROM_HEADER: str(exc.revision)}
    )


def install(app: FastAPI) -> None:
    """Answer the hub's errors with the API's error bodies and status codes."""
    app.add_exception_handler(RequestValidationError, _invalid_parameter)
    app.add_exception_handler(StoreNotFoundError, _store_not_found)
    app.add_exception_handler(UnknownEntityError, _entity_not_found)
    app.add_exception_handler(RepositoryUnavailableError, _repository_down)
    app.add_exception_handler(InvalidTokenError, _invalid_token)
    app.add_exception_handler(StoreAccessDeniedError, _access_denied)
    app.add_exception_handler(RateLimitedError, _rate_limited)
    app.add_exception_handler(ResyncRequiredError, _resync_required)
