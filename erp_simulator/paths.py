"""Parse the resource path of an OData request below the service root.

Supported paths, after ``/<infobase>/odata/standard.odata/``::

    Catalog_Номенклатура
    Catalog_Номенклатура/$count
    Catalog_Номенклатура(guid'6625029a-f578-48ed-8d43-c942802afab2')
    InformationRegister_ЦеныНоменклатуры25/SliceLast(Period=datetime'...')
    InformationRegister_ЦеныНоменклатуры25/SliceLast()/$count

The parameters of a virtual table are accepted and ignored.
"""

import re
from dataclasses import dataclass

from erp_simulator.entity_sets import UnknownEntitySetError

__all__ = ["ResourcePath", "parse_resource_path"]

_ENTITY_SET = re.compile(r"(?P<name>[^/()$][^/()]*)(?:\((?P<key>[^)]*)\))?")
_VIRTUAL_TABLE = re.compile(r"(?P<table>\w+)\((?P<parameters>.*)\)")
_GUID_KEY = re.compile(r"guid'(?P<guid>[0-9a-fA-F-]{36})'")


@dataclass(frozen=True)
class ResourcePath:
    """What a request path addresses.

    ``key`` is the GUID of a single record, ``virtual_table`` the name of a
    register's virtual table, and ``count`` is set for a ``/$count`` path.
    """

    segment: str
    key: str | None = None
    virtual_table: str | None = None
    count: bool = False


def _split_count(path: str) -> tuple[str, bool]:
    if path == "$count" or path.endswith("/$count"):
        return path.removesuffix("$count").removesuffix("/"), True
    return path, False


def parse_resource_path(path: str) -> ResourcePath:
    """Parse ``path``, the request path below the service root.

    Raises UnknownEntitySetError naming the first segment that is not of a
    supported form, because 1C answers such paths with the same error as an
    unknown entity set.
    """
    rest, count = _split_count(path)
    entity_set = _ENTITY_SET.match(rest)
    if entity_set is None:
        raise UnknownEntitySetError(rest.split("/", 1)[0])
    segment = entity_set["name"]
    key = None
    if entity_set["key"] is not None:
        guid = _GUID_KEY.fullmatch(entity_set["key"])
        if guid is None:
            raise UnknownEntitySetError(entity_set.group(0))
        key = guid["guid"].lower()
    tail = rest[entity_set.end() :]
    if key is not None and count:
        raise UnknownEntitySetError("$count")
    if not tail:
        return ResourcePath(segment, key=key, count=count)
    virtual = _VIRTUAL_TABLE.fullmatch(tail.removeprefix("/"))
    if key is not None or not tail.startswith("/") or virtual is None:
        raise UnknownEntitySetError(tail.removeprefix("/").split("/", 1)[0])
    return ResourcePath(segment, virtual_table=virtual["table"], count=count)
