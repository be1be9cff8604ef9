"""Server-kept cursors: changes since a store's last acknowledgement.

A store that prefers "everything new since last time" reads
``/cursor/{entity}/changes`` and, after committing the page, acknowledges
the page's ``next_after``. Reading never moves the cursor, so a store that
crashes before its ack reads the same page again.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from contracts import ChangesPage, get_entity
from contracts.delivery import CursorAck, CursorState
from hub.api.auth import require_store
from hub.api.changes import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, get_changes
from hub.api.errors import STORE_RESPONSES, error_response
from hub.api.state import ApiState, get_state
from hub.delivery import DeliveryState
from hub.stores import StoreRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["cursor"])


@router.get(
    "/stores/{store_id}/cursor/{entity}",
    response_model=CursorState,
    responses=STORE_RESPONSES,
    summary="The store's server-kept cursor of one entity",
)
async def get_cursor(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
) -> CursorState:
    """Return the cursor's revision, 0 before the first ack."""
    get_entity(entity)
    revision = await DeliveryState(state.repository).cursor(store.store_id, entity)
    committed = await state.repository.committed_revision(entity)
    return CursorState(
        store_id=store.store_id,
        entity=entity,
        revision=revision,
        hub_revision=committed,
    )


@router.get(
    "/stores/{store_id}/cursor/{entity}/changes",
    response_model=ChangesPage,
    responses=STORE_RESPONSES,
    summary="Changes after the store's cursor; reading does not move it",
)
async def get_cursor_changes(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    ] = DEFAULT_PAGE_SIZE,
) -> Response:
    """Return up to ``limit`` changes after the cursor, as the changes route does.

    Acknowledge the page's ``next_after`` once the page is committed.
    """
    get_entity(entity)
    revision = await DeliveryState(state.repository).cursor(store.store_id, entity)
    return await get_changes(state, store, entity, after=revision, limit=limit)


@router.post(
    "/stores/{store_id}/cursor/{entity}/ack",
    response_model=CursorState,
    responses=STORE_RESPONSES,
    summary="Move the store's cursor forward",
)
async def ack_cursor(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
    ack: CursorAck,
) -> CursorState | JSONResponse:
    """Move the cursor to ``revision`` and return it.

    An ack below the cursor changes nothing and returns the cursor. An ack
    above the committed revision is answered 422, naming ``revision``.
    """
    get_entity(entity)
    committed = await state.repository.committed_revision(entity)
    if ack.revision > committed:
        return error_response(
            422,
            "invalid_parameter",
            f"invalid parameter revision={ack.revision}: above the committed"
            f" revision {committed} of {entity}; acknowledge a page's next_after",
        )
    revision = await DeliveryState(state.repository).ack(
        store.store_id, entity, ack.revision
    )
    return CursorState(
        store_id=store.store_id,
        entity=entity,
        revision=revision,
        hub_revision=committed,
    )
