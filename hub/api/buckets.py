"""Bucket digests and documents by key, for a store that checks its copy.

An agent whose digest differs from the hub's descends the bucket tree of
``contracts.buckets`` with ``GET .../buckets/{entity}?prefix=`` and fetches
the current versions of exactly the keys that differ with
``POST .../buckets/{entity}/documents``.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from contracts import get_entity
from contracts.buckets import (
    MAX_PREFIX_LENGTH,
    BucketsAnswer,
    DocumentsAnswer,
    DocumentsRequest,
    answer_buckets,
)
from hub.api.auth import require_store
from hub.api.changes import UpToRevision
from hub.api.errors import STORE_RESPONSES
from hub.api.state import ApiState, get_state
from hub.stores import StoreRecord
from hub.verify import current_documents, hub_view

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["verify"])


@router.get(
    "/stores/{store_id}/buckets/{entity}",
    response_model=BucketsAnswer,
    response_model_exclude_none=True,
    responses=STORE_RESPONSES,
    summary="Digests of a bucket's child buckets, or its keys and hashes",
)
async def get_buckets(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
    revision: UpToRevision = None,
    prefix: Annotated[
        str,
        Query(
            pattern=f"^[0-9a-f]{{0,{MAX_PREFIX_LENGTH}}}$",
            description="Hex prefix of the SHA-256 of the keys; empty for all.",
        ),
    ] = "",
) -> BucketsAnswer:
    """Return the bucket ``prefix`` of the store's live documents.

    A revision above the committed one is lowered to it, as for the digest.
    """
    get_entity(entity)
    committed = await state.repository.committed_revision(entity)
    up_to = committed if revision is None else min(revision, committed)
    # NOTE: every request reads the store's whole view; a descent makes about
    # ten requests, so a cache per (store, entity, revision) would help on
    # large entities.
    view = await hub_view(state.repository, store, entity, up_to)
    return answer_buckets(entity, up_to, view, prefix)


@router.post(
    "/stores/{store_id}/buckets/{entity}/documents",
    response_model=DocumentsAnswer,
    responses=STORE_RESPONSES,
    summary="Current versions of the given keys, to repair a store's copy",
)
async def post_documents(
    state: Annotated[ApiState, Depends(get_state)],
    store: Annotated[StoreRecord, Depends(require_store)],
    entity: str,
    request: DocumentsRequest,
) -> DocumentsAnswer:
    """Return the newest committed version of each key the store may read."""
    get_entity(entity)
    revision, documents = await current_documents(
        state.repository, store, entity, request.keys
    )
    return DocumentsAnswer(entity=entity, revision=revision, documents=documents)
