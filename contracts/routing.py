"""Names on the broker: routing keys, queue names and the bindings of a store.

A document's scope says which stores it is meant for, and is written the same
way in the repository, in routing keys and in queue bindings:

- ``all``: every store;
- ``group.<group id>``: the stores of one group (a price zone, a format);
- ``store.<store id>``: one store.

The routing key of a change is ``<entity>.<scope>`` (``items.all``,
``prices.group.msk``, ``stock.store.0042``), and a store's queue for an entity
is ``store.<store id>.<entity>``.
"""

import re

__all__ = [
    "SCOPE_ALL",
    "InvalidNameError",
    "binding_keys",
    "group_scope",
    "queue_name",
    "routing_key",
    "store_scope",
    "store_scopes",
    "validate_name",
]

SCOPE_ALL = "all"

# Dots separate the words of a topic routing key, and "*" and "#" are topic
# wildcards, so an identifier used inside a key may contain none of them.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class InvalidNameError(ValueError):
    """Raised when a store, group or entity id cannot be used in a routing key."""


def validate_name(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid id of ``kind``, or raise InvalidNameError."""
    if not _NAME_PATTERN.fullmatch(value):
        raise InvalidNameError(
            f"invalid {kind} id {value!r}: use 1 to 64 letters, digits, '-' or '_',"
            " starting with a letter or digit"
        )
    return value


def group_scope(group_id: str) -> str:
    """Return the scope of the stores of one group."""
    return f"group.{validate_name('group', group_id)}"


def store_scope(store_id: str) -> str:
    """Return the scope of one store."""
    return f"store.{validate_name('store', store_id)}"


def store_scopes(store_id: str, groups: list[str]) -> list[str]:
    """Return every scope whose documents a store may receive."""
    return [SCOPE_ALL, store_scope(store_id), *(group_scope(g) for g in groups)]


def routing_key(entity: str, scope: str) -> str:
    """Return the routing key of a change of ``entity`` meant for ``scope``."""
    return f"{entity}.{scope}"


def queue_name(store_id: str, entity: str) -> str:
    """Return the name of a store's durable queue for one entity."""
    return f"store.{validate_name('store', store_id)}.{entity}"


def binding_keys(entity: str, store_id: str, groups: list[str]) -> list[str]:
    """Return the routing keys a store's queue for ``entity`` is bound to."""
    return [routing_key(entity, scope) for scope in store_scopes(store_id, groups)]
