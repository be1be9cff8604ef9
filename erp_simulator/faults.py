"""Misbehaviour the simulator shows on request, to test how clients cope.

Tests set faults through ``POST /_simulator/faults``: slow responses, a
slow first request (a cold start), errors in each of 1C's forms, truncated
bodies, items added between two pages of a paged read, and an empty or
partial data set.
"""

import asyncio
import logging
import threading
from typing import Literal

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field

from erp_simulator.onec import Row
from erp_simulator.responses import (
    JSON_MEDIA_TYPE,
    XML_MEDIA_TYPE,
    error_json,
    error_xml,
)

__all__ = ["ErrorForm", "FaultSettings", "Faults"]

logger = logging.getLogger(__name__)

ErrorForm = Literal["json", "xml", "html", "text"]

_HTML_ERROR = (
    "<html><head><title>Ошибка</title></head><body><h1>1C:Enterprise 8 "
    "application error</h1><p>{message}</p></body></html>"
)
_ERROR_MESSAGE = "Ошибка при выполнении операции с информационной базой"


class FaultSettings(BaseModel):
    """The body of ``POST /_simulator/faults``; every field defaults to off."""

    model_config = ConfigDict(extra="forbid")

    delay_seconds: float = Field(0, ge=0, le=60, description="Delay of every request.")
    cold_start_seconds: float = Field(
        0, ge=0, le=60, description="Extra delay of the next request only."
    )
    fail_requests: int = Field(
        0, ge=0, description="Next requests that get an error response."
    )
    fail_status: int = Field(500, ge=400, le=599, description="Status of those errors.")
    fail_form: ErrorForm = Field("json", description="Body form of those errors.")
    truncate_requests: int = Field(
        0, ge=0, description="Next successful bodies to cut in half."
    )
    add_items_between_pages: int = Field(
        0,
        ge=0,
        le=1000,
        description="Items to add to the catalogue once, just before a request "
        "for a later page ($skip > 0) of Catalog_Номенклатура.",
    )
    serve_share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of every entity set's rows that list requests see, "
        "from the first row on: 0 serves an empty set, 0.5 the first half.",
    )


class Faults:
    """The faults in force, consumed request by request; safe across threads."""

    def __init__(self) -> None:
        self._settings = FaultSettings()
        self._lock = threading.Lock()

    def set(self, settings: FaultSettings) -> None:
        """Replace the faults in force with ``settings``."""
        with self._lock:
            self._settings = settings.model_copy()
        logger.info("Faults set: %s", settings.model_dump(exclude_defaults=True))

    def current(self) -> FaultSettings:
        """Return a copy of the faults in force, with what is left of the counts."""
        with self._lock:
            return self._settings.model_copy()

    async def delay(self) -> None:
        """Sleep for the configured delay plus any pending cold start."""
        with self._lock:
            seconds = self._settings.delay_seconds + self._settings.cold_start_seconds
            self._settings.cold_start_seconds = 0
        if seconds:
            await asyncio.sleep(seconds)

    def take_error(self) -> Response | None:
        """Return the error response of the next failing request, if one is due."""
        with self._lock:
            if self._settings.fail_requests <= 0:
                return None
            self._settings.fail_requests -= 1
            status, form = self._settings.fail_status, self._settings.fail_form
        logger.info("Responding with a fault: HTTP %d in %s form", status, form)
        if form == "json":
            return Response(
                error_json("-1", _ERROR_MESSAGE), status, media_type=JSON_MEDIA_TYPE
            )
        if form == "xml":
            return Response(
                error_xml("-1", _ERROR_MESSAGE), status, media_type=XML_MEDIA_TYPE
            )
        if form == "html":
            body = _HTML_ERROR.format(message=_ERROR_MESSAGE)
            return Response(body, status, media_type="text/html;charset=utf-8")
        return Response(_ERROR_MESSAGE, status, media_type="text/plain;charset=utf-8")

    def take_truncation(self) -> bool:
        """Return whether the next successful body must be cut in half."""
        with self._lock:
            if self._settings.truncate_requests <= 0:
                return False
            self._settings.truncate_requests -= 1
            return True

    def take_items_to_add(self, entity_set: str, skip: int) -> int:
        """Return how many items to add before serving this request, once."""
        with self._lock:
            count = self._settings.add_items_between_pages
            if count == 0 or entity_set != "Catalog_Номенклатура" or skip == 0:
                return 0
            self._settings.add_items_between_pages = 0
            return count

    def limit_rows(self, rows: list[Row]) -> list[Row]:
        """Return the first ``serve_share`` of ``rows``, for a list request."""
        with self._lock:
            share = self._settings.serve_share
        if share >= 1:
            return rows
        return rows[: int(len(rows) * share)]
