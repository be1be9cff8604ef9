"""Messages a store's agent rejected, with the reason it gave.

RabbitMQ dead-letters a rejected message with the reason "rejected" only, so
the agent reports why it could not use the message here, and the operator's
``store dead-letters`` command shows that reason next to the message.
"""

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from contracts import get_entity
from hub.api.auth import require_store
from hub.api.errors import STORE_RESPONSES
from hub.api.state import ApiState, get_state
from hub.repository import translate_unavailable
from hub.stores import StoreRecord

__all__ = ["Rejection", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["delivery"])


class Rejection(BaseModel):
    """A message the agent rejected without requeue, and why."""

    entity: str = Field(max_length=64)
    message_id: str = Field(max_length=256)
    reason: str = Field(max_length=2000)


@router.post(
    "/stores/{store_id}/rejections",
    status_code=201,
    responses=STORE_RESPONSES,
    summary="Record why the store's agent rejected a message",
)
async def record_rejection(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    rejection: Rejection,
) -> dict[str, str]:
    """Store the rejection for operators; returns the message id."""
    get_entity(rejection.entity)
    row = {
        "store_id": store.store_id,
        **rejection.model_dump(),
        "at": datetime.now(UTC),
    }
    async with translate_unavailable(f"recording a rejection of {store.store_id}"):
        await state.repository.db.rejections.insert_one(row)
    logger.warning(
        "store %s rejected message %s of %s: %s",
        store.store_id,
        rejection.message_id,
        rejection.entity,
        rejection.reason,
    )
    return {"message_id": rejection.message_id}
