"""The AsyncAPI 3.0 document of the AMQP side: exchange, queues and messages.

It is built from the contract models, so it cannot drift from them; the hub
checks in the rendered file, and a test compares it with this output.
"""

from typing import Any

from contracts.changes import (
    HEADER_ENTITY,
    HEADER_REV_FROM,
    HEADER_REV_TO,
    HEADER_SCHEMA_VERSION,
    HEADER_SCOPE,
    ChangeBatch,
)
from contracts.entities import ENTITIES, EntitySpec

__all__ = ["render_asyncapi"]

_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": [
        HEADER_ENTITY,
        HEADER_SCHEMA_VERSION,
        HEADER_SCOPE,
        HEADER_REV_FROM,
        HEADER_REV_TO,
    ],
    "properties": {
        HEADER_ENTITY: {"type": "string", "description": "Entity of the batch."},
        HEADER_SCHEMA_VERSION: {
            "type": "integer",
            "description": "Version of the entity's contract.",
        },
        HEADER_SCOPE: {
            "type": "string",
            "description": "all, group.<group id> or store.<store id>.",
        },
        HEADER_REV_FROM: {"type": "integer", "description": "First revision."},
        HEADER_REV_TO: {"type": "integer", "description": "Last revision."},
    },
}


def _message(name: str, spec: EntitySpec) -> dict[str, Any]:
    payload = ChangeBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    payload.pop("$defs", None)
    payload["properties"]["documents"]["items"] = {
        "allOf": [{"$ref": "#/components/schemas/ChangeDocument"}],
        "properties": {
            "data": {
                "oneOf": [
                    {"$ref": f"#/components/schemas/{spec.model.__name__}"},
                    {"type": "null"},
                ]
            }
        },
    }
    return {
        "name": f"{name}-changes",
        "title": f"Changes of {name}",
        "summary": (
            f"The latest versions and tombstones of {name} documents of one"
            " scope, in revision order."
        ),
        "contentType": "application/json",
        "headers": _HEADERS,
        "payload": payload,
        "correlationId": {
            "description": (
                "The message id <entity>:<scope>:<first>-<last> is the same on"
                " every redelivery of the batch."
            ),
            "location": "$message.header#/message_id",
        },
        "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
        "x-schema-version": spec.schema_version,
    }


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    batch = ChangeBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(batch.pop("$defs", {}))
    for spec in ENTITIES.values():
        model = spec.model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas.update(model.pop("$defs", {}))
        schemas[spec.model.__name__] = model
    return dict(sorted(schemas.items()))


def render_asyncapi(exchange: str = "retail-hub.changes") -> dict[str, Any]:
    """Return the AsyncAPI 3.0 document of the changes exchange and store queues."""
    channels: dict[str, Any] = {
        "changes": {
            "address": exchange,
            "title": "Changes exchange",
            "description": (
                "Durable topic exchange. Routing key <entity>.all,"
                " <entity>.group.<group id> or <entity>.store.<store id>."
            ),
            "messages": {
                f"{name}Changes": {"$ref": f"#/components/messages/{name}Changes"}
                for name in sorted(ENTITIES)
            },
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": exchange, "type": "topic", "durable": True},
                    "bindingVersion": "0.3.0",
                }
            },
        }
    }
    operations: dict[str, Any] = {
        "publishChanges": {
            "action": "send",
            "channel": {"$ref": "#/channels/changes"},
            "summary": "The hub publishes with publisher confirms.",
        }
    }
    for name in sorted(ENTITIES):
        channels[f"{name}Queue"] = {
            "address": f"store.{{storeId}}.{name}",
            "title": f"A store's queue of {name}",
            "description": (
                f"Durable queue bound to {name}.all, {name}.store.<store id> and"
                f" {name}.group.<group id> for each group of the store."
            ),
            "parameters": {"storeId": {"description": "The store's id."}},
            "messages": {
                f"{name}Changes": {"$ref": f"#/components/messages/{name}Changes"}
            },
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"durable": True, "exclusive": False, "autoDelete": False},
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[f"receive{name.title().replace('_', '')}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}Queue"},
            "summary": (
                "The store acknowledges a message after its local commit and"
                " applies a document only when its revision is newer."
            ),
            "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "retail-hub changes",
            "version": "1",
            "description": "Master data changes from the hub to retail stores.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                f"{name}Changes": _message(name, spec)
                for name, spec in sorted(ENTITIES.items())
            },
            "schemas": _schemas(),
        },
    }
