"""Heartbeats of store agents, answered with what the agent must do next."""

import logging
from typing import Annotated

from fastapi import APIRouter, Depends

from contracts.delivery import HeartbeatAnswer, HeartbeatRequest
from hub.api.auth import require_store
from hub.api.errors import STORE_RESPONSES
from hub.api.state import ApiState, get_state
from hub.delivery import DeliveryState
from hub.stores import StoreRecord

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["heartbeat"])


@router.post(
    "/stores/{store_id}/heartbeat",
    response_model=HeartbeatAnswer,
    responses=STORE_RESPONSES,
    summary="Report an agent's applied revisions; get catch-up and replay requests",
)
async def post_heartbeat(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    heartbeat: HeartbeatRequest,
) -> HeartbeatAnswer:
    """Store the heartbeat in the store's state and return the agent's tasks."""
    answer = await DeliveryState(state.repository).record_heartbeat(
        store.store_id, heartbeat
    )
    logger.debug(
        "heartbeat of store %s: mode %s, applied %s, catch up %s, replay %s",
        store.store_id,
        heartbeat.mode,
        heartbeat.applied,
        answer.catch_up,
        answer.replay_from,
    )
    return answer
