"""Operator changes to a registered store: update, rotate its token, remove it.

Each function writes an audit record and one log line with the store id.
"""

import logging
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractExchange

from contracts import ENTITIES, queue_name
from hub.audit import write_audit
from hub.credentials import BrokerAdmin, StoreSecrets, hash_token, new_secret
from hub.delivery import DeliveryState, cursor_id
from hub.repository import translate_unavailable
from hub.settings import Settings
from hub.store_queues import (
    declare_store_queues,
    delete_store_queues,
    rebind_store_queues,
)
from hub.stores import StoreRecord, StoreRegistry, Transport, record_from_row

__all__ = ["remove_store", "rotate_store_token", "update_store"]

logger = logging.getLogger(__name__)


async def update_store(
    registry: StoreRegistry,
    store_id: str,
    channel: AbstractChannel,
    exchange: AbstractExchange,
    settings: Settings,
    *,
    name: str | None = None,
    groups: list[str] | None = None,
    transport: Transport | None = None,
    actor: str = "hub",
) -> StoreRecord:
    """Change a store's name, groups (replaced as a whole) or transport.

    New groups bind the store's queues to them and unbind removed ones. A
    store that joins a group is asked to pull every entity again from
    revision 0 (``resync_from``), so it receives the group's older
    documents, and a running agent is asked the same at its next heartbeat.
    Raises StoreNotFoundError for an unknown store.

    NOTE: documents of a group the store left stay in its local copy,
    because nothing tells the store to delete them.
    """
    before = record_from_row(await registry.row(store_id))
    after = StoreRecord.model_validate(
        {
            **before.model_dump(),
            "name": before.name if name is None else name,
            "groups": before.groups if groups is None else groups,
            "transport": transport or before.transport,
        }
    )
    changes: dict[str, Any] = {
        field: {"from": getattr(before, field), "to": getattr(after, field)}
        for field in ("name", "groups", "transport")
        if getattr(before, field) != getattr(after, field)
    }
    fields: dict[str, Any] = {
        "name": after.name,
        "groups": after.groups,
        "transport": after.transport,
    }
    if set(after.groups) - set(before.groups):
        for entity in ENTITIES:
            fields[f"resync_from.{entity}"] = 0

    if "groups" in changes:
        # Bind first and unbind last, so a failure in between leaves the
        # store receiving more than its scopes, never less.
        await declare_store_queues(channel, exchange, settings, store_id, after.groups)
    async with translate_unavailable(f"updating store {store_id}"):
        await registry.repository.db.stores.update_one(
            {"_id": store_id}, {"$set": fields}
        )
    if "groups" in changes:
        await rebind_store_queues(
            channel, exchange, settings, store_id, before.groups, after.groups
        )
    if set(after.groups) - set(before.groups):
        # A running agent learns of the change at its next heartbeat and
        # pulls again from revision 0, without waiting for a restart.
        delivery = DeliveryState(registry.repository)
        for entity in ENTITIES:
            await delivery.request_replay(store_id, entity, 0)

    await write_audit(registry.repository, "update", store_id, actor, changes)
    logger.info("store %s updated: %s", store_id, changes or "nothing changed")
    return await registry.get(store_id)


async def rotate_store_token(
    registry: StoreRegistry,
    store_id: str,
    settings: Settings,
    *,
    broker_password: bool = False,
    actor: str = "hub",
) -> StoreSecrets:
    """Give the store a new API token, and a new broker password if asked.

    The old token stops working at once, and an old broker password for new
    connections. Returns the new secrets. Raises StoreNotFoundError for an
    unknown store and BrokerManagementError when RabbitMQ rejects the change.
    """
    await registry.row(store_id)
    password = user = None
    if broker_password:
        password = new_secret()
        async with BrokerAdmin.from_settings(settings) as users:
            user = await users.put_store_user(store_id, password)
    token = new_secret()
    async with translate_unavailable(f"updating store {store_id}"):
        await registry.repository.db.stores.update_one(
            {"_id": store_id}, {"$set": {"token_hash": hash_token(token)}}
        )

    details = {"broker_password": broker_password}
    await write_audit(registry.repository, "rotate-token", store_id, actor, details)
    logger.info(
        "store %s: API token rotated%s",
        store_id,
        ", broker password too" if broker_password else "",
    )
    return StoreSecrets(token, user, password)


async def remove_store(
    registry: StoreRegistry,
    store_id: str,
    channel: AbstractChannel,
    settings: Settings,
    *,
    actor: str = "hub",
) -> None:
    """Delete the store's broker user, queues, document, cursors and state.

    The broker user goes first, so the store loses access before its data
    does, and a removal that failed half-way can be run again. Raises
    StoreNotFoundError for an unknown store.
    """
    await registry.row(store_id)
    async with BrokerAdmin.from_settings(settings) as admin:
        await admin.delete_store_user(store_id)
        # Listed rather than named, so queues that other features add for
        # the store (such as its dead-letter queue) go too.
        queues = {queue_name(store_id, entity) for entity in ENTITIES}
        queues.update(await admin.store_queues(store_id))
    await delete_store_queues(channel, sorted(queues))
    db = registry.repository.db
    async with translate_unavailable(f"removing store {store_id}"):
        # A store added again later with the same id starts from nothing:
        # no cursor, no reported state, no pending replay.
        cursor_ids = [cursor_id(store_id, entity) for entity in ENTITIES]
        await db.cursors.delete_many({"_id": {"$in": cursor_ids}})
        await db.store_state.delete_one({"_id": store_id})
        await db.stores.delete_one({"_id": store_id})

    await write_audit(registry.repository, "remove", store_id, actor)
    logger.info("store %s removed with its queues, broker user and token", store_id)
