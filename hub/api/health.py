"""Health and metrics of the API process."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.errors import ERROR_RESPONSES
from hub.api.state import ApiState, get_state

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/v1/health",
    summary="Whether the repository answers",
    responses={503: ERROR_RESPONSES[503]},
    tags=["health"],
)
async def health(state: Annotated[ApiState, Depends(get_state)]) -> dict[str, str]:
    """Return ``{"status": "ok"}``, or 503 while the repository is down."""
    await state.repository.ping()
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(
    state: Annotated[ApiState, Depends(get_state)],
) -> Response:
    """Return the API's Prometheus metrics."""
    body = generate_latest(state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
