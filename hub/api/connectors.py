"""Operator routes of the connectors: trigger a run, list recent runs.

Every route needs ``Authorization: Bearer <RETAIL_HUB_OPERATOR_TOKEN>``.
Without that setting, every request gets a 401 response.
"""

import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from connectors.config import load_config
from connectors.errors import LeaseHeldError
from connectors.odata import ODataClient
from connectors.scheduler import RunCoordinator
from contracts import ErrorBody
from hub.api.errors import error_response
from hub.api.state import ApiState, get_state
from hub.connector_runs import run_and_publish
from hub.runtime import open_broker

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/connectors", tags=["connectors"])

_OPERATOR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid operator token."},
    404: {"model": ErrorBody, "description": "No connector of that entity."},
}


def _operator_token_error(state: ApiState, authorization: str | None) -> str | None:
    """Return why the request is not an operator's, or None when it is."""
    expected = state.settings.operator_token
    if expected is None:
        return "operator routes are disabled; set RETAIL_HUB_OPERATOR_TOKEN"
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "missing operator token: send Authorization: Bearer <token>"
    if not secrets.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return "invalid operator token"
    return None


def _unauthorized(message: str) -> JSONResponse:
    response = error_response(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _coordinator(request: Request, state: ApiState) -> RunCoordinator:
    """Return the app's run coordinator, made on first use.

    NOTE: the app's shutdown does not wait for runs started here; a run cut
    short writes nothing past its last commit, and its lease expires.
    """
    coordinator: RunCoordinator | None = getattr(
        request.app.state, "connector_runs", None
    )
    if coordinator is None:

        async def run(entity: str) -> None:
            settings = state.settings
            erp = ODataClient.from_settings(settings, load_config().erp)
            try:
                async with open_broker(settings) as broker:
                    await run_and_publish(
                        settings, state.repository, erp, entity, broker
                    )
            except LeaseHeldError as exc:
                logger.info("triggered run of %s skipped: %s", entity, exc)
            finally:
                await erp.close()

        coordinator = RunCoordinator(run)
        request.app.state.connector_runs = coordinator
    return coordinator


@router.post(
    "/{entity}/runs",
    status_code=202,
    responses=_OPERATOR_RESPONSES,
    response_model=None,
)
async def trigger_run(
    entity: str,
    request: Request,
    state: Annotated[ApiState, Depends(get_state)],
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, str] | JSONResponse:
    """Start a run of ``entity``'s connector, or queue one after the current run.

    Returns 202 with ``run``: ``started``, or ``coalesced`` when a run is
    under way, because all requests during a run give one follow-up run.
    """
    problem = _operator_token_error(state, authorization)
    if problem is not None:
        logger.info("rejected connector trigger of %s: %s", entity, problem)
        return _unauthorized(problem)
    if entity not in load_config().entities:
        return error_response(
            404, "unknown_entity", f"no connector of entity {entity!r} is configured"
        )
    outcome = _coordinator(request, state).request(entity)
    logger.info("connector run of %s requested over HTTP: %s", entity, outcome)
    return {"entity": entity, "run": outcome}


@router.get("/runs", responses=_OPERATOR_RESPONSES, response_model=None)
async def list_runs(
    state: Annotated[ApiState, Depends(get_state)],
    authorization: Annotated[str | None, Header()] = None,
    entity: str | None = None,
    limit: int = 20,
) -> dict[str, Any] | JSONResponse:
    """Return the latest connector runs, newest first."""
    problem = _operator_token_error(state, authorization)
    if problem is not None:
        return _unauthorized(problem)
    runs = await state.repository.recent_runs(entity, limit=max(1, min(limit, 200)))
    return {"runs": [{k: v for k, v in run.items() if k != "_id"} for run in runs]}
