"""Helpers of the store agent tests: documents, batches and a fake pull API.

The fake hub implements the pull API as documented in contracts.ChangesPage,
so the agent's client can be tested before the real hub API exists.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contracts import ChangeBatch, ChangeDocument, ChangesPage, Item, document_hash

WAIT_SECONDS = 15.0


def item_data(key: str, name: str = "Milk 1 l") -> dict[str, Any]:
    """Return the data of a valid item with reference key ``key``."""
    item = Item(
        ref=key,
        code=f"CODE-{key}",
        name=name,
        full_name=f"{name}, full name",
        article=None,
        unit_ref=None,
        vat_rate="VAT20",
        item_type="Goods",
        weight_kg=1.05,
        folder_ref=None,
        folder_path=["Food", "Dairy"],
        barcodes=["4600000000017"],
    )
    return item.model_dump(mode="json")


def live(key: str, rev: int, name: str = "Milk 1 l") -> ChangeDocument:
    """Return a live version of item ``key`` at revision ``rev``."""
    data = item_data(key, name)
    return ChangeDocument(
        key=key, rev=rev, deleted=False, hash=document_hash(data), data=data
    )


def tombstone(key: str, rev: int) -> ChangeDocument:
    """Return the tombstone of item ``key`` at revision ``rev``."""
    return ChangeDocument(key=key, rev=rev, deleted=True, hash="", data=None)


def batch_of(documents: list[ChangeDocument], entity: str = "items") -> ChangeBatch:
    """Return a batch of ``documents`` for every store (scope ``all``)."""
    return ChangeBatch(
        entity=entity,
        schema_version=Item.schema_version,
        scope="all",
        rev_from=documents[0].rev,
        rev_to=documents[-1].rev,
        documents=documents,
    )


async def wait_until(condition: Callable[[], bool], description: str) -> None:
    """Poll ``condition`` until it is true, or fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {WAIT_SECONDS} s waiting for {description}"
            )
        await asyncio.sleep(0.02)


class FakeHub:
    """The hub's pull API over an in-memory list of documents.

    ``unavailable`` is how many requests get a 503 with Retry-After: 0
    before the API responds normally again. ``failures`` is how many get a 500.
    ``hub_revision`` may be set past the last document, as when the newest
    changes are meant for other stores. Every request's query is recorded.
    """

    def __init__(self, store_id: str, entity: str = "items") -> None:
        self.store_id = store_id
        self.entity = entity
        self.documents: list[ChangeDocument] = []
        self.hub_revision = 0
        self.unavailable = 0
        self.failures = 0
        self.requests: list[dict[str, int]] = []
        self.app = FastAPI()
        self.app.add_api_route(
            "/v1/stores/{store_id}/changes/{entity}", self._changes, methods=["GET"]
        )

    def add(self, *documents: ChangeDocument) -> None:
        """Add versions; each must have a revision above the hub revision."""
        for document in documents:
            assert document.rev > self.hub_revision
            self.documents.append(document)
            self.hub_revision = document.rev

    async def _changes(
        self, store_id: str, entity: str, after: int = 0, limit: int = 500
    ) -> JSONResponse:
        self.requests.append({"after": after, "limit": limit})
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(503, "repository_unavailable", "try again later", "0")
        if self.failures > 0:
            self.failures -= 1
            return _error(500, "internal", "the fake hub failed on purpose")
        if store_id != self.store_id:
            return _error(404, "store_not_found", f"unknown store {store_id!r}")
        if not 1 <= limit <= 10_000 or after < 0:
            return _error(422, "invalid_parameter", f"invalid limit {limit}")

        newer = [document for document in self.documents if document.rev > after]
        page = newer[:limit]
        has_more = len(newer) > limit
        next_after = page[-1].rev if has_more else max(after, self.hub_revision)
        body = ChangesPage(
            store_id=store_id,
            entity=entity,
            documents=page,
            next_after=next_after,
            has_more=has_more,
            hub_revision=self.hub_revision,
        )
        return JSONResponse(body.model_dump(mode="json"))


def _error(
    status: int, code: str, message: str, retry_after: str | None = None
) -> JSONResponse:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return JSONResponse(
        {"error": code, "message": message}, status_code=status, headers=headers
    )
