"""A client of 1C:Enterprise's standard OData interface.

1C returns every matching row unless ``$top`` is given and sends no next-page
link, so the client pages with ``$top``/``$skip`` under a stable ``$orderby``.
Errors come in three forms (OData JSON, OData XML and the application
server's HTML page); each becomes one ErpResponseError with the status, the
URL without credentials and the ERP's own message.
"""

import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from connectors.errors import ErpResponseError, ErpUnavailableError
from hub.settings import Settings

__all__ = ["ODataClient"]

logger = logging.getLogger(__name__)

_MAX_PAGES = 100_000
_XML_MESSAGE = re.compile(r"<m:message[^>]*>(.*?)</m:message>", re.S)
_HTML_TAGS = re.compile(r"<[^>]+>")


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
    ) -> None:
        self.root = f"{base_url.rstrip('/')}/{infobase}/odata/standard.odata/"
        self.page_size = page_size
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(user, password),
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            headers={"Accept": "application/json"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "ODataClient":
        return cls(
            settings.erp_url,
            settings.erp_infobase,
            settings.erp_user,
            settings.erp_password.get_secret_value(),
            page_size=settings.erp_page_size,
            timeout_seconds=settings.erp_timeout_seconds,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def read_all(
        self,
        resource: str,
        *,
        order_by: str,
        select: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Return every row of ``resource``, reading it in pages of ``page_size``.

        Raises ErpUnavailableError when the ERP cannot be reached and
        ErpResponseError when it answers with an error.
        """
        rows: list[dict[str, Any]] = []
        for page_number in range(_MAX_PAGES):
            params = {
                "$format": "json",
                "$orderby": order_by,
                "$top": str(self.page_size),
                "$skip": str(page_number * self.page_size),
            }
            if select:
                params["$select"] = ",".join(select)
            page = await self._get_rows(resource, params)
            rows.extend(page)
            logger.debug(
                "read page %d of %s: %d rows", page_number + 1, resource, len(page)
            )
            if len(page) < self.page_size:
                return rows
        raise ErpResponseError(0, self.root + resource, f"more than {_MAX_PAGES} pages")

    async def _get_rows(
        self, resource: str, params: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        url = self.root + quote(resource, safe="/()=',$")
        try:
            response = await self._client.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise ErpUnavailableError(f"ERP did not answer in time: GET {url}") from exc
        except httpx.TransportError as exc:
            raise ErpUnavailableError(f"ERP unreachable: GET {url}: {exc}") from exc

        shown_url = str(response.request.url)
        if response.status_code != 200:
            raise ErpResponseError(
                response.status_code, shown_url, error_message(response.text)
            )
        try:
            body = response.json()
            rows = body["value"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ErpResponseError(
                response.status_code,
                shown_url,
                f"the body is not an OData JSON list ({exc}): {response.text[:200]!r}",
            ) from exc
        if not isinstance(rows, list):
            raise ErpResponseError(200, shown_url, "'value' is not a JSON array")
        return rows


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
