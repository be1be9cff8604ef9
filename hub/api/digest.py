"""The digest of a store's view of an entity, to compare with its copy."""

from typing import Annotated

from fastapi import APIRouter, Depends

from contracts import get_entity
from contracts.delivery import Digest
from hub.api.auth import require_store
from hub.api.changes import UpToRevision
from hub.api.errors import STORE_RESPONSES
from hub.api.state import ApiState, get_state
from hub.delivery import DeliveryState
from hub.stores import StoreRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["digest"])


@router.get(
    "/stores/{store_id}/digest/{entity}",
    response_model=Digest,
    responses=STORE_RESPONSES,
    summary="Count and SHA-256 of the live documents a store should hold",
)
async def get_digest(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
    revision: UpToRevision = None,
) -> Digest:
    """Return the digest of the store's live documents up to ``revision``.

    A revision above the committed one is lowered to it, and the answer's
    ``revision`` says which one was used.
    """
    get_entity(entity)
    committed = await state.repository.committed_revision(entity)
    up_to = committed if revision is None else min(revision, committed)
    delivery = DeliveryState(state.repository)
    return await delivery.digest(entity, store.scopes, up_to)
