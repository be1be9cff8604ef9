"""Pull a store's changes from the hub's HTTP API into the local copy.

``GET {hub}/v1/stores/{store}/changes/{entity}?after=<rev>&limit=<n>`` returns
a ChangesPage. The puller starts after the local applied revision, commits
each page before it requests the next, and passes the page's ``next_after``
as the next ``after`` while ``has_more`` is true.

A 503 response means the hub's repository is down. The puller then waits for
the longer of its Retry-After header and an exponential back-off, and tries
again a bounded number of times. A transport error (refused connection,
timeout) is retried the same way. Other error responses are not retried.

Every request sends ``Authorization: Bearer <token>`` when the puller has a
token. A 409 ``resync_required`` response (the store joined a group) makes
the puller lower the local applied revision to the response's
``Resync-From`` header and pull from there. Documents already held are kept.
"""

import asyncio
import logging
import math
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx
from pydantic import ValidationError

from contracts import ChangesPage, ErrorBody
from store_agent.local_store import LocalStore
from store_agent.validation import InvalidChangesError, check_documents

__all__ = ["HubError", "PullResult", "Puller", "ResyncRequiredError", "RetryPolicy"]

logger = logging.getLogger(__name__)


class HubError(Exception):
    """Raised when the hub rejects a pull, is unavailable, or breaks the contract.

    ``status`` is the HTTP status, or None when no valid response arrived.
    ``code`` is the hub's error code, if its body had one.
    """

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ResyncRequiredError(HubError):
    """Raised when the hub requests a new pull of an entity from ``revision``."""

    def __init__(self, message: str, revision: int) -> None:
        super().__init__(message, status=409, code="resync_required")
        self.revision = revision


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one request after a 503 or a transport error.

    The wait before retry n (from 1) is ``base_delay_seconds * 2**(n-1)``, or
    the response's Retry-After if longer, and at most ``max_delay_seconds``.
    """

    attempts: int = 5
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"invalid attempts {self.attempts}: use 1 or more")

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Return the seconds to wait before retry number ``retry`` (from 1)."""
        backoff = self.base_delay_seconds * 2.0 ** (retry - 1)
        delay = max(backoff, retry_after or 0.0)
        return min(delay, self.max_delay_seconds)


@dataclass(frozen=True)
class PullResult:
    """Counts of one pull of one entity, and the applied revision after it."""

    entity: str
    pages: int
    documents: int
    applied: int
    skipped_stale: int
    applied_revision: int


# Idle connections are closed before uvicorn's 5 s keep-alive timeout, so a
# request seldom goes out on a connection the server is closing at that moment
# (httpx.RemoteProtocolError "Server disconnected without sending a response").
# The puller retries such a request. The connection limits are httpx's defaults.
_KEEPALIVE_SECONDS = 4.0


class Puller:
    """A client of the hub's pull API that writes into a LocalStore.

    Use it as an async context manager, or call ``aclose`` when done: it owns
    an httpx.AsyncClient. ``max_pages`` bounds one pull_once; the rest is left
    for the next pull.
    """

    def __init__(
        self,
        hub_url: str,
        store_id: str,
        local_store: LocalStore,
        page_size: int = 500,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        max_pages: int = 10_000,
        token: str | None = None,
    ) -> None:
        self.store_id = store_id
        self._local_store = local_store
        self._page_size = page_size
        self._retry = retry or RetryPolicy()
        self._max_pages = max_pages
        # Every request of this client, heartbeats too, carries the token.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=hub_url.rstrip("/"),
            timeout=timeout_seconds,
            headers=headers,
            limits=httpx.Limits(
                max_connections=100,
                max_keepalive_connections=20,
                keepalive_expiry=_KEEPALIVE_SECONDS,
            ),
        )

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The HTTP client of the hub, for other requests of the agent."""
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def pull_once(self, entity: str, after: int | None = None) -> PullResult:
        """Pull every page of ``entity`` after ``after`` or the applied revision.

        Each page is committed before the next is requested, so an error
        keeps the pages already applied. Raises HubError when the hub returns
        an error, stays unavailable after the retries, or sends a page that
        breaks the contract. Raises sqlite3.Error when a commit fails.
        """
        if after is None:
            after = await asyncio.to_thread(self._local_store.applied_revision, entity)
        pages = documents = applied = skipped = 0
        rewound = False

        while pages < self._max_pages:
            try:
                page = await self._fetch_page(entity, after)
            except ResyncRequiredError as request:
                if rewound:
                    raise
                rewound = True
                after = await self._rewind(entity, request.revision)
                continue
            pages += 1
            _check_page(page, self.store_id, entity, after)

            result = await asyncio.to_thread(
                self._local_store.apply, entity, page.documents, page.next_after
            )
            documents += len(page.documents)
            applied += result.applied
            skipped += result.skipped_stale
            after = max(after, page.next_after)

            if not page.has_more:
                break
        else:
            logger.warning(
                "store %s: pull of %s stopped after %d pages at revision %d;"
                " the next pull continues from there",
                self.store_id,
                entity,
                pages,
                after,
            )

        logger.info(
            "store %s: pulled %s: %d pages, %d documents, %d applied, %d stale,"
            " revision %d",
            self.store_id,
            entity,
            pages,
            documents,
            applied,
            skipped,
            after,
        )
        return PullResult(entity, pages, documents, applied, skipped, after)

    async def _rewind(self, entity: str, revision: int) -> int:
        # The lower applied revision is committed before the first page, so
        # a pull cut short starts from it again; documents held stay.
        await asyncio.to_thread(self._local_store.rewind, entity, revision)
        logger.info(
            "store %s: hub asked to pull %s again from revision %d (the store's"
            " groups changed); documents held are kept",
            self.store_id,
            entity,
            revision,
        )
        return revision

    async def _fetch_page(self, entity: str, after: int) -> ChangesPage:
        path = f"/v1/stores/{self.store_id}/changes/{entity}"
        params = {"after": after, "limit": self._page_size}
        response = await self._get_with_retries(path, params)

        if response.status_code != httpx.codes.OK:
            error = _hub_error(response)
            resync_from = response.headers.get("Resync-From", "")
            if error.code == "resync_required" and resync_from.isdigit():
                raise ResyncRequiredError(str(error), int(resync_from))
            raise error
        try:
            return ChangesPage.model_validate_json(response.content)
        except ValidationError as error:
            raise HubError(
                f"invalid page from {response.url}: {error.error_count()} errors,"
                f" first: {error.errors()[0]['msg']}",
                status=response.status_code,
            ) from None

    async def _get_with_retries(
        self, path: str, params: dict[str, int]
    ) -> httpx.Response:
        url = f"{self._client.base_url}{path}"

        for attempt in range(1, self._retry.attempts + 1):
            retry_after: float | None = None
            try:
                response = await self._client.get(path, params=params)
            except httpx.TransportError as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                if response.status_code != httpx.codes.SERVICE_UNAVAILABLE:
                    return response
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                reason = f"503 {_error_message(response)}"

            if attempt == self._retry.attempts:
                raise HubError(
                    f"hub unavailable at {url} after {attempt} attempts: {reason}",
                    status=None if retry_after is None else 503,
                )
            delay = self._retry.delay(attempt, retry_after)
            logger.warning(
                "store %s: GET %s failed (%s); retry %d of %d in %.1f s",
                self.store_id,
                url,
                reason,
                attempt,
                self._retry.attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)

        raise AssertionError("unreachable: the last attempt returns or raises")


def _check_page(page: ChangesPage, store_id: str, entity: str, after: int) -> None:
    if page.store_id != store_id or page.entity != entity:
        raise HubError(
            f"page of store {page.store_id!r}, entity {page.entity!r} in response to"
            f" a request for store {store_id!r}, entity {entity!r}"
        )
    if page.has_more and page.next_after <= after:
        raise HubError(
            f"page after revision {after} of {entity!r} has more pages but"
            f" next_after {page.next_after} does not move forward"
        )
    if page.hub_revision < after:
        logger.warning(
            "store %s: hub revision %d of %s is behind the local applied revision"
            " %d; was the hub's repository reset?",
            store_id,
            page.hub_revision,
            entity,
            after,
        )
    try:
        check_documents(entity, page.documents)
    except InvalidChangesError as error:
        raise HubError(f"invalid page of {entity!r} after {after}: {error}") from None


def _parse_retry_after(value: str | None) -> float | None:
    """Return Retry-After in seconds; an HTTP date or invalid value counts as absent."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _error_message(response: httpx.Response) -> str:
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return response.text[:200] or response.reason_phrase
    return f"{body.error}: {body.message}"


def _hub_error(response: httpx.Response) -> HubError:
    try:
        code = ErrorBody.model_validate_json(response.content).error
    except ValidationError:
        code = ""
    return HubError(
        f"GET {response.url} returned {response.status_code}:"
        f" {_error_message(response)}",
        status=response.status_code,
        code=code,
    )
