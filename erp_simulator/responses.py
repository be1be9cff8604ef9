"""Bodies of the simulator's OData responses: JSON, Atom XML and 1C errors.

The JSON forms are those of the sample responses in tests/fixtures/onec. The
Atom form is a minimal OData v3 Atom feed: enough for a client that reads
entries and their properties, without links or metadata annotations.
"""

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from erp_simulator.onec import Row

__all__ = [
    "ATOM_MEDIA_TYPE",
    "ERROR_BAD_SEGMENT",
    "ERROR_ENTITY_NOT_FOUND",
    "ERROR_QUERY",
    "JSON_MEDIA_TYPE",
    "XML_MEDIA_TYPE",
    "atom_entry",
    "atom_feed",
    "error_json",
    "error_xml",
    "json_entity",
    "json_list",
    "json_service_document",
    "xml_service_document",
]

JSON_MEDIA_TYPE = "application/json;charset=utf-8"
ATOM_MEDIA_TYPE = "application/atom+xml;charset=utf-8"
XML_MEDIA_TYPE = "application/xml;charset=utf-8"

ERROR_BAD_SEGMENT = "6"
"""1C's error code for a path segment that names nothing."""
ERROR_ENTITY_NOT_FOUND = "9"
"""1C's error code for a key that matches no record."""
# NOTE: no response of 1C to a malformed query option was captured, so this
# code and the wording of such errors are assumed, unlike the two above.
ERROR_QUERY = "14"
"""The error code the simulator uses for a query option it cannot parse."""

_ATOM = "http://www.w3.org/2005/Atom"
_DATA = "http://schemas.microsoft.com/ado/2007/08/dataservices"
_METADATA = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
_SCHEME = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"

ET.register_namespace("", _ATOM)
ET.register_namespace("d", _DATA)
ET.register_namespace("m", _METADATA)
ET.register_namespace("app", "http://www.w3.org/2007/app")


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def json_list(metadata_url: str, rows: Sequence[Row], count: int | None) -> bytes:
    """Return a JSON list body, with ``odata.count`` if ``count`` is not None.

    1C writes the count as a string, so this does too.
    """
    body: dict[str, Any] = {"odata.metadata": metadata_url}
    if count is not None:
        body["odata.count"] = str(count)
    body["value"] = list(rows)
    return _dump(body)


def json_service_document(root: str, paths: Sequence[str]) -> bytes:
    """Return the JSON service document that lists the entity set ``paths``."""
    sets = [{"name": path, "url": path} for path in paths]
    return _dump({"odata.metadata": f"{root}/$metadata", "value": sets})


def xml_service_document(root: str, paths: Sequence[str]) -> bytes:
    """Return the AtomPub service document that lists the entity set ``paths``."""
    app = "http://www.w3.org/2007/app"
    service = ET.Element(f"{{{app}}}service")
    service.set("{http://www.w3.org/XML/1998/namespace}base", root)
    workspace = ET.SubElement(service, f"{{{app}}}workspace")
    ET.SubElement(workspace, f"{{{_ATOM}}}title").text = "Default"
    for path in paths:
        collection = ET.SubElement(workspace, f"{{{app}}}collection", href=path)
        ET.SubElement(collection, f"{{{_ATOM}}}title").text = path
    return _serialize(service)


def json_entity(metadata_url: str, row: Row) -> bytes:
    """Return the JSON body of a single record: its metadata URL and fields."""
    return _dump({"odata.metadata": metadata_url, **row})


def error_json(code: str, message: str) -> bytes:
    """Return a 1C error in JSON: ``{"odata.error": {"code", "message"}}``."""
    error = {"code": code, "message": {"lang": "ru", "value": message}}
    return _dump({"odata.error": error})


def error_xml(code: str, message: str) -> bytes:
    """Return a 1C error in XML, the form of Atom responses."""
    root = ET.Element(f"{{{_METADATA}}}error")
    ET.SubElement(root, f"{{{_METADATA}}}code").text = code
    text = ET.SubElement(root, f"{{{_METADATA}}}message")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "ru")
    text.text = message
    return _serialize(root)


def _serialize(element: ET.Element) -> bytes:
    data: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return data


def _property(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, f"{{{_DATA}}}{name}")
    if value is None:
        element.set(f"{{{_METADATA}}}null", "true")
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, list):
        # A tabular part: one <d:element> with the fields of each row.
        for row in value:
            item = ET.SubElement(element, f"{{{_DATA}}}element")
            for field, field_value in row.items():
                _property(item, field, field_value)
    else:
        element.text = str(value)


def _fill_entry(entry: ET.Element, entry_id: str, type_name: str, row: Row) -> None:
    ET.SubElement(entry, f"{{{_ATOM}}}id").text = entry_id
    category = ET.SubElement(entry, f"{{{_ATOM}}}category")
    category.set("term", f"StandardODATA.{type_name}")
    category.set("scheme", _SCHEME)
    ET.SubElement(entry, f"{{{_ATOM}}}title", type="text")
    ET.SubElement(entry, f"{{{_ATOM}}}updated").text = _now()
    ET.SubElement(entry, f"{{{_ATOM}}}author")
    content = ET.SubElement(entry, f"{{{_ATOM}}}content", type="application/xml")
    properties = ET.SubElement(content, f"{{{_METADATA}}}properties")
    for name, value in row.items():
        _property(properties, name, value)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(
    feed_id: str, name: str, entries: Sequence[tuple[str, Row]], count: int | None
) -> bytes:
    """Return an Atom feed of ``entries``, each an (entry id, row) pair.

    ``count``, if not None, is written as ``<m:count>``, the Atom form of
    ``odata.count``.
    """
    feed = ET.Element(f"{{{_ATOM}}}feed")
    ET.SubElement(feed, f"{{{_ATOM}}}id").text = feed_id
    ET.SubElement(feed, f"{{{_ATOM}}}title", type="text").text = name
    ET.SubElement(feed, f"{{{_ATOM}}}updated").text = _now()
    if count is not None:
        ET.SubElement(feed, f"{{{_METADATA}}}count").text = str(count)
    for entry_id, row in entries:
        _fill_entry(ET.SubElement(feed, f"{{{_ATOM}}}entry"), entry_id, name, row)
    return _serialize(feed)


def atom_entry(entry_id: str, name: str, row: Row) -> bytes:
    """Return a single record as an Atom ``<entry>`` document."""
    entry = ET.Element(f"{{{_ATOM}}}entry")
    _fill_entry(entry, entry_id, name, row)
    return _serialize(entry)
