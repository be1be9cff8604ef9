"""The declarative connector configuration: which entities to read, and how.

The configuration is one TOML file, ``connectors/entities.toml`` unless the
``RETAIL_HUB_CONNECTORS_FILE`` environment variable names another. Each
``[entities.<name>]`` table describes one entity of ``contracts.ENTITIES``:
the OData resource, ``$select`` fields, key fields, the scope rule, lookups
and joins, and how each contract field is made from a row. The file's own
comments describe every option.
"""

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.errors import ConnectorError
from contracts import ENTITIES

__all__ = [
    "CONFIG_ENV",
    "CONVERSIONS",
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "ConnectorsConfig",
    "EntityConfig",
    "ErpLimits",
    "FieldRule",
    "ScopeRule",
    "SourceSpec",
    "load_config",
]

CONFIG_ENV = "RETAIL_HUB_CONNECTORS_FILE"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "entities.toml"

CONVERSIONS = frozenset(
    {"raw", "text", "ref", "date", "number", "integer", "bool", "composite", "scope_id"}
)
_SCOPE_RULES = frozenset({"all", "group", "store"})


class ConfigError(ConnectorError):
    """Raised when the connectors file is missing, not TOML, or inconsistent."""


@dataclass(frozen=True)
class ErpLimits:
    """How hard the connectors may press the ERP, shared by every entity."""

    retries: int = 3
    retry_backoff_seconds: float = 1.0
    connect_timeout_seconds: float = 10.0
    max_concurrent_requests: int = 2
    max_requests_per_second: float = 10.0
    consistency_attempts: int = 3


@dataclass(frozen=True)
class SourceSpec:
    """A second data set read for a lookup (by key) or a join (lists of values).

    ``resource`` is None for a lookup of the entity's own rows.
    """

    name: str
    resource: str | None
    key: str
    select: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    where: dict[str, Any] = field(default_factory=dict)
    value: str | None = None


@dataclass(frozen=True)
class FieldRule:
    """How one contract field is made from a row."""

    name: str
    sources: tuple[str, ...]
    convert: str = "raw"
    lookup: str | None = None
    lookup_field: str | None = None
    path: str | None = None
    path_label: str = "Description"
    path_parent: str = "Parent_Key"
    join: str | None = None
    pattern: re.Pattern[str] | None = None
    types: tuple[str, ...] = ()
    zero_is_null: bool = False


@dataclass(frozen=True)
class ScopeRule:
    """Which stores a document is for: all, a store group, or one store.

    ``group``: the row's ``source`` field is looked up in ``lookup`` and that
    row's ``lookup_field`` value is mapped to a group by ``groups``. ``store``: the
    store id is ``store_id_prefix`` and the looked-up row's ``lookup_field`` value.
    A row whose scope cannot be resolved is not for any store and is skipped.
    """

    rule: str = "all"
    source: str | None = None
    lookup: str | None = None
    lookup_field: str | None = None
    groups: dict[str, str] = field(default_factory=dict)
    store_id_prefix: str = ""


@dataclass(frozen=True)
class EntityConfig:
    """How one entity is read from the ERP and mapped to contract documents."""

    entity: str
    resource: str
    key: tuple[str, ...]
    order_by: tuple[str, ...]
    fields: tuple[FieldRule, ...]
    select: tuple[str, ...] = ()
    where: dict[str, Any] = field(default_factory=dict)
    skip_when: dict[str, Any] = field(default_factory=dict)
    deleted_when: dict[str, Any] = field(default_factory=dict)
    scope: ScopeRule = field(default_factory=ScopeRule)
    lookups: dict[str, SourceSpec] = field(default_factory=dict)
    joins: dict[str, SourceSpec] = field(default_factory=dict)
    interval_seconds: float = 600.0
    page_size: int | None = None


@dataclass(frozen=True)
class ConnectorsConfig:
    """The whole connectors file."""

    path: Path
    erp: ErpLimits
    entities: dict[str, EntityConfig]


def load_config(path: str | os.PathLike[str] | None = None) -> ConnectorsConfig:
    """Load and check the connectors file.

    ``path`` defaults to ``$RETAIL_HUB_CONNECTORS_FILE`` or the file shipped
    beside this module. Raises ConfigError naming the file and the option.
    """
    chosen = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    try:
        raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read connectors file {chosen}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"connectors file {chosen} is not TOML: {exc}") from exc
    try:
        erp = ErpLimits(**raw.get("erp", {}))
        entities = {
            name: _entity(name, table)
            for name, table in raw.get("entities", {}).items()
        }
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"invalid connectors file {chosen}: {exc}") from exc
    return ConnectorsConfig(chosen, erp, entities)


def _entity(name: str, table: dict[str, Any]) -> EntityConfig:
    if name not in ENTITIES:
        raise ValueError(f"entity {name!r} has no contract in contracts.ENTITIES")
    table = dict(table)
    lookups = {
        key: _source(key, spec) for key, spec in table.pop("lookups", {}).items()
    }
    joins = {key: _source(key, spec) for key, spec in table.pop("joins", {}).items()}
    rules = tuple(
        _field(field_name, spec) for field_name, spec in table.pop("fields", {}).items()
    )
    scope = ScopeRule(**table.pop("scope", {}))
    key = tuple(table.pop("key"))
    config = EntityConfig(
        entity=name,
        resource=table.pop("resource"),
        key=key,
        order_by=tuple(table.pop("order_by", key)),
        fields=rules,
        select=tuple(table.pop("select", ())),
        scope=scope,
        lookups=lookups,
        joins=joins,
        **table,
    )
    _check(config)
    return config


def _source(name: str, table: dict[str, Any]) -> SourceSpec:
    table = dict(table)
    return SourceSpec(
        name=name,
        resource=table.pop("resource", None),
        key=table.pop("key"),
        select=tuple(table.pop("select", ())),
        order_by=tuple(table.pop("order_by", ())),
        **table,
    )


def _field(name: str, spec: str | dict[str, Any]) -> FieldRule:
    if isinstance(spec, str):
        return FieldRule(name, (spec,))
    spec = dict(spec)
    sources = spec.pop("from", ())
    pattern = spec.pop("pattern", None)
    return FieldRule(
        name=name,
        sources=(sources,) if isinstance(sources, str) else tuple(sources),
        pattern=re.compile(pattern) if pattern is not None else None,
        types=tuple(spec.pop("types", ())),
        **spec,
    )


def _check(config: EntityConfig) -> None:
    """Raise ValueError where the entity's rules do not fit its contract."""
    model = ENTITIES[config.entity].model
    names = {rule.name for rule in config.fields}
    unknown = names - set(model.model_fields)
    if unknown:
        raise ValueError(
            f"{config.entity}: fields {sorted(unknown)} are not in the contract"
        )
    missing = {
        name
        for name, info in model.model_fields.items()
        if info.is_required() and name not in names
    }
    if missing:
        raise ValueError(f"{config.entity}: contract fields {sorted(missing)} unset")
    if config.scope.rule not in _SCOPE_RULES:
        raise ValueError(
            f"{config.entity}: scope rule {config.scope.rule!r} is not one of "
            f"{sorted(_SCOPE_RULES)}"
        )
    if config.scope.rule != "all" and config.scope.lookup not in config.lookups:
        raise ValueError(f"{config.entity}: scope lookup {config.scope.lookup!r} unset")
    for rule in config.fields:
        if rule.convert not in CONVERSIONS:
            raise ValueError(
                f"{config.entity}.{rule.name}: conversion {rule.convert!r} is not "
                f"one of {sorted(CONVERSIONS)}"
            )
        for lookup in (rule.lookup, rule.path):
            if lookup is not None and lookup not in config.lookups:
                raise ValueError(
                    f"{config.entity}.{rule.name}: lookup {lookup!r} unset"
                )
        if rule.join is not None and rule.join not in config.joins:
            raise ValueError(f"{config.entity}.{rule.name}: join {rule.join!r} unset")
    if not config.key:
        raise ValueError(f"{config.entity}: key needs at least one field")
