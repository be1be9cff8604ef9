"""A client of 1C:Enterprise's standard OData interface.

1C returns every matching row unless ``$top`` is given and sends no next-page
link, so the client pages with ``$top``/``$skip`` under a stable ``$orderby``.
Every page asks for ``$inlinecount=allpages``: when the count changes while
paging, or rows repeat or go missing because rows were inserted or deleted
between pages, the whole data set is read again. Requests that fail with a
5xx status, a network error, a timeout or a body that is not OData JSON are
retried with exponential back-off. One client limits its concurrent
requests and its request rate, so entities that share it share the limits.

Errors come in several forms (OData JSON, OData XML, the application
server's HTML page, plain text); each becomes one ErpResponseError with the
status, the URL without credentials and the ERP's own message.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from connectors.config import ErpLimits
from connectors.errors import ErpResponseError, ErpUnavailableError
from hub.settings import Settings

__all__ = ["ODataClient", "ProgressCallback", "ReadStats", "error_message"]

logger = logging.getLogger(__name__)

_MAX_PAGES = 100_000
_XML_MESSAGE = re.compile(r"<m:message[^>]*>(.*?)</m:message>", re.S)
_HTML_TAGS = re.compile(r"<[^>]+>")

ProgressCallback = Callable[[str, int, int], None]
"""Called after each page with the resource, pages read and rows read."""


@dataclass
class ReadStats:
    """Counts of the requests one or more ``read_all`` calls made."""

    pages: int = 0
    rows: int = 0
    retries: int = 0
    rereads: int = 0


class _Retryable(Exception):
    """A failure worth another attempt; wraps the error to raise at the end."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class ODataClient:
    """Reads entity sets of one 1C infobase over OData, page by page."""

    def __init__(
        self,
        base_url: str,
        infobase: str,
        user: str,
        password: str,
        *,
        page_size: int = 1000,
        timeout_seconds: float = 120.0,
        limits: ErpLimits | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.root = f"{_without_credentials(base_url).rstrip('/')}/{infobase}"
        self.root += "/odata/standard.odata/"
        self.page_size = page_size
        self.limits = limits or ErpLimits()
        self.progress = progress
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(user, password),
            timeout=httpx.Timeout(
                timeout_seconds, connect=self.limits.connect_timeout_seconds
            ),
            headers={"Accept": "application/json"},
        )
        self._slots = asyncio.Semaphore(self.limits.max_concurrent_requests)
        self._pace = asyncio.Lock()
        self._next_start = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        limits: ErpLimits | None = None,
        progress: ProgressCallback | None = None,
    ) -> "ODataClient":
        """Create a client for the ERP that ``settings`` names."""
        return cls(
            settings.erp_url,
            settings.erp_infobase,
            settings.erp_user,
            settings.erp_password.get_secret_value(),
            page_size=settings.erp_page_size,
            timeout_seconds=settings.erp_timeout_seconds,
            limits=limits,
            progress=progress,
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    async def read_all(
        self,
        resource: str,
        *,
        order_by: str,
        select: list[str] | None = None,
        key: Sequence[str] = (),
        page_size: int | None = None,
        stats: ReadStats | None = None,
    ) -> list[dict[str, Any]]:
        """Return every row of ``resource``, read in pages under ``order_by``.

        ``key`` names the fields that identify a row; rows repeated across
        pages are kept once. The data set is read again, up to
        ``limits.consistency_attempts`` times in all, when its count changed
        while paging or the rows read do not add up to it. Raises
        ErpUnavailableError when the ERP cannot be reached, and
        ErpResponseError when it answers with an error or the data set never
        stays still for a whole read.
        """
        stats = stats if stats is not None else ReadStats()
        size = page_size or self.page_size
        attempts = max(1, self.limits.consistency_attempts)
        problem = ""
        for attempt in range(1, attempts + 1):
            rows, problem = await self._read_once(
                resource, order_by, select, key, size, stats
            )
            if not problem:
                return rows
            stats.rereads += 1
            logger.warning(
                "reading %s again (attempt %d of %d): %s",
                resource,
                attempt + 1,
                attempts,
                problem,
            )
        raise ErpResponseError(
            200,
            self.root + resource,
            f"the data set kept changing while it was read in pages ({problem}); "
            f"gave up after {attempts} reads",
        )

    async def _read_once(
        self,
        resource: str,
        order_by: str,
        select: list[str] | None,
        key: Sequence[str],
        size: int,
        stats: ReadStats,
    ) -> tuple[list[dict[str, Any]], str]:
        """Read every page once; return the rows and why they are not usable."""
        rows: dict[Any, dict[str, Any]] = {}
        repeated = 0
        first_count: int | None = None
        for page_number in range(_MAX_PAGES):
            params = {
                "$format": "json",
                "$orderby": order_by,
                "$top": str(size),
                "$skip": str(page_number * size),
                "$inlinecount": "allpages",
            }
            if select:
                params["$select"] = ",".join(select)
            page, count = await self._get_page(resource, params, stats)
            stats.pages += 1
            stats.rows += len(page)
            for row in page:
                row_key = tuple(row.get(name) for name in key) if key else id(row)
                if row_key in rows:
                    repeated += 1
                rows[row_key] = row
            if first_count is None:
                first_count = count
            logger.debug(
                "read page %d of %s: %d rows, %s in the data set",
                page_number + 1,
                resource,
                len(page),
                count,
            )
            if self.progress is not None:
                self.progress(resource, page_number + 1, len(rows))
            if len(page) < size:
                break
        else:
            raise ErpResponseError(
                0, self.root + resource, f"more than {_MAX_PAGES} pages"
            )
        if count is not None and first_count != count:
            return [], f"its count went from {first_count} to {count}"
        if repeated:
            return [], f"{repeated} rows were read twice"
        if count is not None and len(rows) != count:
            return [], f"read {len(rows)} distinct rows of {count}"
        return list(rows.values()), ""

    async def _get_page(
        self, resource: str, params: Mapping[str, str], stats: ReadStats
    ) -> tuple[list[dict[str, Any]], int | None]:
        url = self.root + quote(resource, safe="/()=',$")
        retries = max(0, self.limits.retries)
        for attempt in range(retries + 1):
            try:
                return await self._request(url, params)
            except _Retryable as failure:
                if attempt == retries:
                    raise failure.error from failure.error.__cause__
                delay = self.limits.retry_backoff_seconds * 2**attempt
                stats.retries += 1
                logger.warning(
                    "retrying GET %s in %.1fs (retry %d of %d): %s",
                    url,
                    delay,
                    attempt + 1,
                    retries,
                    failure.error,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    async def _request(
        self, url: str, params: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], int | None]:
        async with self._slots:
            await self._wait_for_turn()
            try:
                response = await self._client.get(url, params=params)
            except httpx.TimeoutException as exc:
                error = ErpUnavailableError(f"ERP did not answer in time: GET {url}")
                error.__cause__ = exc
                raise _Retryable(error) from exc
            except httpx.TransportError as exc:
                error = ErpUnavailableError(f"ERP unreachable: GET {url}: {exc}")
                error.__cause__ = exc
                raise _Retryable(error) from exc

        shown_url = _without_credentials(str(response.request.url))
        if response.status_code != 200:
            failure = ErpResponseError(
                response.status_code, shown_url, error_message(response.text)
            )
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retryable(failure)
            raise failure
        try:
            body = response.json()
            rows = body["value"]
            count = body.get("odata.count")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A cut-off body is usually a dropped connection: worth a retry.
            raise _Retryable(
                ErpResponseError(
                    200,
                    shown_url,
                    f"the body is not an OData JSON list ({exc}): "
                    f"{response.text[:200]!r}",
                )
            ) from exc
        if not isinstance(rows, list):
            raise ErpResponseError(200, shown_url, "'value' is not a JSON array")
        return rows, int(count) if count is not None else None

    async def _wait_for_turn(self) -> None:
        """Space request starts at least 1 / max_requests_per_second apart."""
        rate = self.limits.max_requests_per_second
        if rate <= 0:
            return
        async with self._pace:
            now = time.monotonic()
            wait = self._next_start - now
            self._next_start = max(now, self._next_start) + 1.0 / rate
        if wait > 0:
            await asyncio.sleep(wait)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def error_message(body: str) -> str:
    """Return the ERP's own message from an error body in any of its forms."""
    text = body.strip()
    try:
        parsed = json.loads(text)
        return str(parsed["odata.error"]["message"]["value"])
    except (ValueError, KeyError, TypeError):
        pass
    xml_match = _XML_MESSAGE.search(text)
    if xml_match:
        return xml_match.group(1).strip()
    if "<html" in text.lower():
        return " ".join(_HTML_TAGS.sub(" ", text).split())[:500]
    return text[:500] or "(empty body)"
