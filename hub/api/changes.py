"""Changes of an entity for one store after a revision, page by page."""

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from contracts import ChangesPage, ErrorBody, get_entity
from hub.api.auth import require_store
from hub.api.change_cache import CachedChange, encode_change
from hub.api.errors import STORE_RESPONSES
from hub.api.state import ApiState, get_state
from hub.errors import ResyncRequiredError
from hub.stores import StoreRecord

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "router"]

MAX_PAGE_SIZE = 5000
# Revisions are stored as MongoDB's signed 64-bit integers.
MAX_REVISION = 2**63 - 1
DEFAULT_PAGE_SIZE = 500

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
) -> Response:
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
    committed = await state.change_cache.committed_revision(entity)
    changes: list[CachedChange] = []
    # A store that has applied every committed revision gets an empty page
    # without a query. Most polls find nothing new, and on a server that uses
    # no index (FerretDB's SQLite backend) each query reads the whole
    # collection.
    if after < committed:
        changes = await _read_changes(state, store, entity, after, limit + 1, committed)
    has_more = len(changes) > limit
    changes = changes[:limit]

    # Everything up to `committed` is written, so a store that has read the
    # last page may continue from there.
    next_after = max(after, committed)
    if has_more:
        next_after = changes[-1].rev

    state.pull_recorder.note(store.store_id)

    state.metrics.pull_requests.labels(entity).inc()
    state.metrics.pull_documents.labels(entity).inc(len(changes))
    # The documents are encoded once and shared by every store's page, so
    # the page is assembled here instead of through the response model.
    head = json.dumps({"store_id": store.store_id, "entity": entity})[:-1]
    tail = json.dumps(
        {"next_after": next_after, "has_more": has_more, "hub_revision": committed}
    )[1:]
    body = b"".join(
        [
            f'{head},"documents":['.encode(),
            b",".join(change.body for change in changes),
            f"],{tail}".encode(),
        ]
    )
    return Response(body, media_type="application/json")


async def _read_changes(
    state: ApiState,
    store: StoreRecord,
    entity: str,
    after: int,
    limit: int,
    committed: int,
) -> list[CachedChange]:
    cached = await state.change_cache.page(
        entity, store.scopes, after, limit, committed
    )
    if cached is not None:
        return cached
    documents = await state.repository.changes_after(
        entity, after, limit, up_to=committed, scopes=store.scopes
    )
    return [encode_change(document) for document in documents]
