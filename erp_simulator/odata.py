"""The OData endpoint of the simulator, at ``/<infobase>/odata/standard.odata``.

Every request needs HTTP Basic credentials. Responses are JSON when the
request has ``$format=json`` or accepts ``application/json``, and Atom XML
otherwise, as with 1C. Errors have 1C's ``odata.error`` form.

NOTE: ``$metadata`` (the CSDL schema) is not served. A request for it gets
the error of an unknown path segment.
"""

import base64
import binascii
import logging
import secrets

from fastapi import APIRouter, Request, Response

from erp_simulator.catalogue import Catalogue
from erp_simulator.entity_sets import EntitySet, UnknownEntitySetError
from erp_simulator.onec import Row
from erp_simulator.paths import ResourcePath, parse_resource_path
from erp_simulator.query import QueryError, apply_query, parse_query
from erp_simulator.responses import (
    ATOM_MEDIA_TYPE,
    ERROR_BAD_SEGMENT,
    ERROR_ENTITY_NOT_FOUND,
    ERROR_QUERY,
    JSON_MEDIA_TYPE,
    XML_MEDIA_TYPE,
    atom_entry,
    atom_feed,
    error_json,
    error_xml,
    json_entity,
    json_list,
    json_service_document,
    xml_service_document,
)

__all__ = ["ODataService"]

logger = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    requested = request.query_params.get("$format")
    if requested is not None:
        return requested == "json" or requested.startswith("application/json")
    return "application/json" in request.headers.get("accept", "")


class ODataService:
    """Serves the entity sets of ``catalogue`` over OData, for one user."""

    def __init__(
        self, catalogue: Catalogue, infobase: str, user: str, password: str
    ) -> None:
        if not infobase or "/" in infobase:
            raise ValueError(
                f"infobase name must be non-empty without '/', got {infobase!r}"
            )
        self.catalogue = catalogue
        self.infobase = infobase
        self.prefix = f"/{infobase}/odata/standard.odata"
        self._credentials = (user.encode(), password.encode())

    def router(self) -> APIRouter:
        """Return a router with the OData routes of this service."""
        router = APIRouter()
        router.add_api_route(
            self.prefix + "/{path:path}",
            self.handle,
            methods=["GET"],
            include_in_schema=False,
        )
        return router

    async def handle(self, request: Request, path: str) -> Response:
        """Serve one OData GET request for the resource ``path``."""
        if not self._authorized(request):
            logger.info("Rejected %s: missing or wrong credentials", request.url.path)
            return Response(
                status_code=401,
                headers={"WWW-Authenticate": f'Basic realm="{self.infobase}"'},
            )
        as_json = _wants_json(request)
        if not path:
            self.catalogue.stats.record(None)
            return self._service_document(request, as_json)
        try:
            resource = parse_resource_path(path)
            entity_set = self.catalogue.entity_sets.resolve(
                resource.segment, resource.virtual_table
            )
        except UnknownEntitySetError as error:
            self.catalogue.stats.record(None)
            logger.info("Rejected %s: %s", request.url.path, error)
            message = f'Сегмент пути "{error.segment}" не найден!'
            return self._error(404, ERROR_BAD_SEGMENT, message, as_json)
        self.catalogue.stats.record(entity_set.name)
        faults = self.catalogue.faults
        await faults.delay()
        failure = faults.take_error()
        if failure is not None:
            return failure
        skip = request.query_params.get("$skip", "0")
        added = faults.take_items_to_add(
            entity_set.name, int(skip) if skip.isdigit() else 0
        )
        if added:
            self.catalogue.mutate(add=added)
        try:
            response = self._serve(request, resource, entity_set, as_json)
        except QueryError as error:
            logger.info("Rejected query of %s: %s", entity_set.name, error)
            return self._error(400, ERROR_QUERY, str(error), as_json)
        if faults.take_truncation():
            cut = bytes(response.body)[: len(response.body) // 2]
            return Response(cut, response.status_code, media_type=response.media_type)
        return response

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return False
        user, separator, password = decoded.partition(b":")
        expected_user, expected_password = self._credentials
        # Both comparisons always run, so the response time does not reveal
        # which part was wrong.
        user_ok = secrets.compare_digest(user, expected_user)
        password_ok = secrets.compare_digest(password, expected_password)
        return bool(separator) and user_ok and password_ok

    def _serve(
        self,
        request: Request,
        resource: ResourcePath,
        entity_set: EntitySet,
        as_json: bool,
    ) -> Response:
        options = parse_query(request.query_params)
        rows = entity_set.rows()
        if resource.key is not None:
            return self._serve_record(request, resource.key, entity_set, rows, as_json)
        result = apply_query(self.catalogue.faults.limit_rows(rows), options)
        if resource.count:
            return Response(
                str(len(result.rows)), media_type="text/plain;charset=utf-8"
            )
        count = result.count if options.inline_count else None
        root = self._service_root(request)
        if as_json:
            metadata = f"{root}/$metadata#{entity_set.name}"
            body = json_list(metadata, result.rows, count)
            return Response(body, media_type=JSON_MEDIA_TYPE)
        entries = [(self._entry_id(root, entity_set, row), row) for row in result.rows]
        body = atom_feed(f"{root}/{entity_set.path}", entity_set.name, entries, count)
        return Response(body, media_type=ATOM_MEDIA_TYPE)

    def _serve_record(
        self,
        request: Request,
        key: str,
        entity_set: EntitySet,
        rows: list[Row],
        as_json: bool,
    ) -> Response:
        field = entity_set.key_field
        if field is None:
            message = f'Сегмент пути "{entity_set.name}(...)" не найден!'
            return self._error(404, ERROR_BAD_SEGMENT, message, as_json)
        row = next((row for row in rows if row.get(field) == key), None)
        if row is None:
            message = "Экземпляр сущности не найден"
            return self._error(404, ERROR_ENTITY_NOT_FOUND, message, as_json)
        root = self._service_root(request)
        if as_json:
            metadata = f"{root}/$metadata#{entity_set.name}/@Element"
            return Response(json_entity(metadata, row), media_type=JSON_MEDIA_TYPE)
        entry_id = self._entry_id(root, entity_set, row)
        return Response(
            atom_entry(entry_id, entity_set.name, row), media_type=ATOM_MEDIA_TYPE
        )

    def _service_document(self, request: Request, as_json: bool) -> Response:
        root = self._service_root(request)
        paths = [entity_set.path for entity_set in self.catalogue.entity_sets]
        if as_json:
            body = json_service_document(root, paths)
            return Response(body, media_type=JSON_MEDIA_TYPE)
        body = xml_service_document(root, paths)
        return Response(body, media_type="application/atomsvc+xml;charset=utf-8")

    def _service_root(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + self.prefix

    @staticmethod
    def _entry_id(root: str, entity_set: EntitySet, row: Row) -> str:
        field = entity_set.key_field
        if field is None or field not in row:
            return f"{root}/{entity_set.path}"
        return f"{root}/{entity_set.name}(guid'{row[field]}')"

    @staticmethod
    def _error(status: int, code: str, message: str, as_json: bool) -> Response:
        if as_json:
            return Response(
                error_json(code, message), status, media_type=JSON_MEDIA_TYPE
            )
        return Response(error_xml(code, message), status, media_type=XML_MEDIA_TYPE)
