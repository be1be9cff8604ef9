"""Map ERP rows to contract documents as an entity's configuration says.

``map_rows`` is pure: it takes the rows of the entity's resource and of its
lookups and joins, and returns the documents, tombstones and quarantined
rows. ``read_entity`` reads those rows from the ERP and maps them.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from connectors.config import EntityConfig, FieldRule, SourceSpec
from connectors.mapping import (
    MappingResult,
    QuarantinedRecord,
    date_or_none,
    ref_or_none,
    text_or_none,
)
from connectors.odata import ODataClient, ReadStats
from contracts import SCOPE_ALL, get_entity, group_scope, store_scope

__all__ = ["KEY_SEPARATOR", "map_rows", "read_entity"]

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "|"
_UNDEFINED_TYPE = "StandardODATA.Undefined"
_TYPE_PREFIX = "StandardODATA."
# The limit guards against a cycle of parent references in bad data.
_PATH_DEPTH_LIMIT = 64

Row = dict[str, Any]


def map_rows(
    config: EntityConfig,
    rows: Iterable[Row],
    lookups: Mapping[str, Iterable[Row]] | None = None,
    joins: Mapping[str, Iterable[Row]] | None = None,
) -> MappingResult:
    """Map the rows of ``config``'s resource to documents keyed by its key.

    ``lookups`` and ``joins`` hold the rows of each named lookup and join;
    a missing one counts as empty, and a lookup without a resource uses
    ``rows``. Rows matching ``skip_when``, failing ``where`` or whose scope
    is unresolved are skipped; rows matching ``deleted_when`` become
    deletions. A row without a key, or whose document fails the contract,
    is quarantined with the reason and the rest go on.
    """
    all_rows = list(rows)
    tables = {
        name: _index(
            spec, all_rows if spec.resource is None else (lookups or {}).get(name, ())
        )
        for name, spec in config.lookups.items()
    }
    lists = {
        name: _group(spec, (joins or {}).get(name, ()))
        for name, spec in config.joins.items()
    }
    model = get_entity(config.entity).model
    result = MappingResult()

    for row in all_rows:
        if _matches(row, config.skip_when, default=False) or not _matches(
            row, config.where, default=True
        ):
            result.skipped += 1
            continue
        key = _key(config, row)
        if key is None:
            missing = " or ".join(config.key)
            result.quarantined.append(
                QuarantinedRecord(None, f"missing or empty {missing}", row)
            )
            continue
        if _matches(row, config.deleted_when, default=False):
            result.deleted.add(key)
            continue
        scope = _scope(config, row, tables)
        if scope is None:
            result.skipped += 1
            continue
        try:
            data = {
                rule.name: _value(rule, row, tables, lists, scope[1])
                for rule in config.fields
            }
            document = model.model_validate(data).model_dump(mode="json")
        except (ValidationError, ValueError, TypeError) as exc:
            result.quarantined.append(QuarantinedRecord(key, _reason(exc), row))
            continue
        result.documents[key] = (scope[0], document)
    return result


def _matches(row: Row, conditions: Mapping[str, Any], *, default: bool) -> bool:
    if not conditions:
        return default
    return all(row.get(name) == value for name, value in conditions.items())


def _index(spec: SourceSpec, rows: Iterable[Row]) -> dict[str, Row]:
    table: dict[str, Row] = {}
    for row in rows:
        key = row.get(spec.key)
        if isinstance(key, str) and _matches(row, spec.where, default=True):
            table[key] = row
    return table


def _group(spec: SourceSpec, rows: Iterable[Row]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for row in rows:
        owner = ref_or_none(row.get(spec.key))
        value = text_or_none(row.get(spec.value or ""))
        if owner is not None and value is not None:
            lists.setdefault(owner, []).append(value)
    return lists


def _key(config: EntityConfig, row: Row) -> str | None:
    parts = [ref_or_none(text_or_none(row.get(name))) for name in config.key]
    if any(part is None for part in parts):
        return None
    return KEY_SEPARATOR.join(part for part in parts if part is not None)


def _scope(
    config: EntityConfig, row: Row, tables: Mapping[str, dict[str, Row]]
) -> tuple[str, str | None] | None:
    """Return the scope and the group or store id, or None if for no store."""
    rule = config.scope
    if rule.rule == "all":
        return SCOPE_ALL, None
    source = ref_or_none(row.get(rule.source or ""))
    target = tables[rule.lookup or ""].get(source or "")
    value = text_or_none(target.get(rule.lookup_field or "")) if target else None
    if value is None:
        return None
    if rule.rule == "group":
        group = rule.groups.get(value)
        return (group_scope(group), group) if group is not None else None
    store_id = f"{rule.store_id_prefix}{value}"
    return store_scope(store_id), store_id


def _value(
    rule: FieldRule,
    row: Row,
    tables: Mapping[str, dict[str, Row]],
    lists: Mapping[str, dict[str, list[str]]],
    scope_id: str | None,
) -> Any:
    if rule.convert == "scope_id":
        return scope_id
    if rule.join is not None:
        owner = ref_or_none(row.get(rule.sources[0])) if rule.sources else None
        return sorted(lists[rule.join].get(owner or "", []))
    value = None
    for source in rule.sources:
        value = _convert(rule, row, source)
        if value is not None:
            break
    if rule.path is not None:
        return _path(rule, value, tables[rule.path])
    if rule.lookup is not None:
        target = tables[rule.lookup].get(value) if isinstance(value, str) else None
        found = target.get(rule.lookup_field or "") if target else None
        return text_or_none(found) if isinstance(found, str) else found
    return value


def _convert(rule: FieldRule, row: Row, source: str) -> Any:
    value = row.get(source)
    match rule.convert:
        case "text":
            text = text_or_none(value)
            if text is not None and rule.pattern is not None:
                found = rule.pattern.search(text)
                return text_or_none(found.group(1)) if found else None
            return text
        case "ref":
            return ref_or_none(value)
        case "date":
            return date_or_none(value)
        case "number" | "integer":
            return _number(rule, source, value)
        case "bool":
            if value is None or isinstance(value, bool):
                return value
            raise ValueError(f"{source} is {value!r}, not true or false")
        case "composite":
            return _composite(rule, row, source)
        case _:
            return value


def _number(rule: FieldRule, source: str, value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{source} is {value!r}, not a number")
    number = int(value) if rule.convert == "integer" else float(value)
    if rule.zero_is_null and number == 0:
        return None
    return number


def _composite(rule: FieldRule, row: Row, source: str) -> str | None:
    """Return the reference of a composite field, or None when undefined.

    1C sends a composite field as the value and ``<field>_Type``, the
    value's type such as ``StandardODATA.Catalog_Контрагенты``.
    """
    kind = row.get(f"{source}_Type")
    if kind in (None, "", _UNDEFINED_TYPE):
        return None
    value = ref_or_none(text_or_none(row.get(source)))
    type_name = str(kind).removeprefix(_TYPE_PREFIX)
    if value is not None and rule.types and type_name not in rule.types:
        raise ValueError(
            f"{source} has type {type_name}, expected one of {list(rule.types)}"
        )
    return value


def _path(rule: FieldRule, start: Any, table: dict[str, Row]) -> list[str]:
    path: list[str] = []
    current = start if isinstance(start, str) else None
    for _ in range(_PATH_DEPTH_LIMIT):
        if current is None or current not in table:
            break
        parent = table[current]
        path.append(text_or_none(parent.get(rule.path_label)) or "")
        current = ref_or_none(parent.get(rule.path_parent))
    path.reverse()
    return path


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        return f"invalid field {field}: {first['msg']}"
    return f"invalid record: {exc}"


async def read_entity(
    erp: ODataClient, config: EntityConfig
) -> tuple[int, MappingResult]:
    """Read the entity's resource, lookups and joins; return rows read and mapping.

    Raises the ERP errors of ``ODataClient.read_all``.
    """
    stats = ReadStats()
    rows = await erp.read_all(
        config.resource,
        order_by=",".join(config.order_by),
        select=list(config.select) or None,
        key=config.key,
        page_size=config.page_size,
        stats=stats,
    )
    lookups: dict[str, list[Row]] = {}
    joins: dict[str, list[Row]] = {}
    for target, specs in ((lookups, config.lookups), (joins, config.joins)):
        for name, spec in specs.items():
            if spec.resource is None:
                continue
            order = spec.order_by or (spec.key,)
            target[name] = await erp.read_all(
                spec.resource,
                order_by=",".join(order),
                select=list(spec.select) or None,
                key=order,
                page_size=config.page_size,
                stats=stats,
            )
    mapped = map_rows(config, rows, lookups, joins)
    mapped.pages_read = stats.pages
    return stats.rows, mapped
