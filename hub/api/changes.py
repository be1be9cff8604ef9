"""Changes of an entity for one store after a revision, page by page."""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from contracts import ChangeDocument, ChangesPage, ErrorBody, get_entity
from hub.api.auth import require_store
from hub.api.errors import STORE_RESPONSES
from hub.api.state import ApiState, get_state
from hub.delivery import DeliveryState
from hub.errors import ResyncRequiredError
from hub.stores import StoreRecord

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "router"]

MAX_PAGE_SIZE = 5000
# Revisions are stored as MongoDB's signed 64-bit integers.
MAX_REVISION = 2**63 - 1
DEFAULT_PAGE_SIZE = 500
# The monitor needs a store's last pull to the minute, so each process
# records it at most this often per store, which keeps pulls cheap.
PULL_RECORD_SECONDS = 60.0
_pull_recorded_at: dict[str, float] = {}

# A revision query parameter that defaults to the committed revision.
UpToRevision = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_REVISION,
        description="Up to this revision; default the committed one.",
    ),
]

router = APIRouter(prefix="/v1", tags=["changes"])


@router.get(
    "/stores/{store_id}/changes/{entity}",
    response_model=ChangesPage,
    responses={
        **STORE_RESPONSES,
        409: {
            "model": ErrorBody,
            "description": "The store joined a group and must pull this entity"
            " again from the revision in the Resync-From header.",
        },
    },
    summary="Changes of one entity for one store after a revision",
)
async def get_changes(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
    after: Annotated[
        int, Query(ge=0, le=MAX_REVISION, description="Last revision held.")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    ] = DEFAULT_PAGE_SIZE,
) -> ChangesPage:
    """Return up to ``limit`` documents and tombstones after revision ``after``.

    Raises ResyncRequiredError (409) while the store must pull ``entity``
    again from an earlier revision; the first request from that revision
    clears the request.
    """
    get_entity(entity)
    resync_from = store.resync_from.get(entity)
    if resync_from is not None:
        if after > resync_from:
            raise ResyncRequiredError(store.store_id, entity, resync_from)
        await state.stores.finish_resync(store.store_id, entity, resync_from)
    committed = await state.repository.committed_revision(entity)
    documents: list[ChangeDocument] = []
    # A store that has applied every committed revision gets an empty page
    # without a query. Most polls find nothing new, and on a server that uses
    # no index (FerretDB's SQLite backend) each query reads the whole
    # collection.
    if after < committed:
        documents = await state.repository.changes_after(
            entity, after, limit + 1, up_to=committed, scopes=store.scopes
        )
    has_more = len(documents) > limit
    documents = documents[:limit]

    # Everything up to `committed` is written, so a store that has read the
    # last page may continue from there.
    next_after = max(after, committed)
    if has_more:
        next_after = documents[-1].rev

    now = time.monotonic()
    recorded = _pull_recorded_at.get(store.store_id)
    if recorded is None or now - recorded >= PULL_RECORD_SECONDS:
        _pull_recorded_at[store.store_id] = now
        await DeliveryState(state.repository).record_pull(store.store_id)

    state.metrics.pull_requests.labels(entity).inc()
    state.metrics.pull_documents.labels(entity).inc(len(documents))
    return ChangesPage(
        store_id=store.store_id,
        entity=entity,
        documents=documents,
        next_after=next_after,
        has_more=has_more,
        hub_revision=committed,
    )
