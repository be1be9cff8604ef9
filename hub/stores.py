"""The store registry: which stores exist, their groups, queues and secrets.

A store document in the ``stores`` collection contains the store's settings,
the SHA-256 hash of its API token (``token_hash``), its broker user name and
``resync_from``: for each entity whose history the store must read again
(after it joined a group), the revision to pull from.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aio_pika.abc import AbstractChannel, AbstractExchange
from pydantic import BaseModel, Field, field_validator
from pymongo.errors import DuplicateKeyError

from contracts import store_scopes, validate_name
from hub.audit import write_audit
from hub.credentials import (
    BrokerAdmin,
    StoreSecrets,
    hash_token,
    new_secret,
    token_matches,
)
from hub.errors import (
    InvalidTokenError,
    StoreAccessDeniedError,
    StoreConflictError,
    StoreNotFoundError,
)
from hub.repository import Repository, translate_unavailable
from hub.settings import Settings
from hub.store_queues import declare_store_queues

__all__ = [
    "Registration",
    "StoreRecord",
    "StoreRegistry",
    "Transport",
    "record_from_row",
]

logger = logging.getLogger(__name__)

Transport = Literal["amqp", "pull"]


class StoreRecord(BaseModel):
    """A registered store."""

    store_id: str
    name: str
    groups: list[str] = Field(default_factory=list)
    transport: Transport = "amqp"
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    resync_from: dict[str, int] = Field(
        default_factory=dict,
        description="Entities the store must pull again, and from which revision.",
    )

    @field_validator("store_id")
    @classmethod
    def _valid_store_id(cls, value: str) -> str:
        return validate_name("store", value)

    @field_validator("groups")
    @classmethod
    def _valid_groups(cls, value: list[str]) -> list[str]:
        return sorted({validate_name("group", group) for group in value})

    @property
    def scopes(self) -> list[str]:
        """Every scope whose documents this store may read."""
        return store_scopes(self.store_id, self.groups)


@dataclass(frozen=True)
class Registration:
    """The outcome of ``register``: the store, and its secrets if it is new."""

    record: StoreRecord
    created: bool
    secrets: StoreSecrets | None


class StoreRegistry:
    """Registers stores in the repository, with their queues and secrets.

    Every change writes an audit record and one log line with the store id.
    """

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self._stores = repository.db.stores

    async def get(self, store_id: str) -> StoreRecord:
        """Return a registered store, or raise StoreNotFoundError."""
        return record_from_row(await self.row(store_id))

    async def list(self) -> list[StoreRecord]:
        """Return every registered store, ordered by id."""
        async with translate_unavailable("listing stores"):
            rows = await self._stores.find({}).sort("_id", 1).to_list(None)
        return [record_from_row(row) for row in rows]

    async def authorize(self, store_id: str, token: str) -> StoreRecord:
        """Return store ``store_id`` if ``token`` is its API token.

        Raises InvalidTokenError when no store has ``token``,
        StoreAccessDeniedError when another store has it, and
        StoreNotFoundError when the token is valid but ``store_id`` is not
        registered. The usual case reads one document by id.
        """
        async with translate_unavailable(f"reading store {store_id}"):
            row = await self._stores.find_one({"_id": store_id})
        if row is not None and token_matches(token, row.get("token_hash")):
            return record_from_row(row)
        # Equal hashes mean equal tokens, so the lookup by hash needs no
        # constant-time comparison.
        async with translate_unavailable("looking up an API token"):
            owner = await self._stores.find_one(
                {"token_hash": hash_token(token)}, {"_id": 1}
            )
        if owner is None:
            raise InvalidTokenError("invalid API token: no store has it")
        if row is None:
            raise StoreNotFoundError(store_id)
        raise StoreAccessDeniedError(
            f"the API token of store {owner['_id']!r} may not read store {store_id!r}"
        )

    async def finish_resync(self, store_id: str, entity: str, revision: int) -> None:
        """Clear the store's request to pull ``entity`` again from ``revision``.

        A newer request (another revision) stays in place.
        """
        field = f"resync_from.{entity}"
        async with translate_unavailable(f"updating store {store_id}"):
            await self._stores.update_one(
                {"_id": store_id, field: revision}, {"$unset": {field: ""}}
            )
        logger.info(
            "store %s: pull of %s restarted from revision %d",
            store_id,
            entity,
            revision,
        )

    async def register(
        self,
        store: StoreRecord,
        channel: AbstractChannel,
        exchange: AbstractExchange,
        settings: Settings,
        *,
        actor: str = "hub",
    ) -> Registration:
        """Register ``store`` with its queues, broker user and API token.

        The queues and the broker user are made first, so a store is never
        listed as registered without them. Registering a store again with
        the same name, groups and transport declares its queues again (which
        changes nothing if they exist) and makes no new secret. Raises
        StoreConflictError if the store exists with other settings (use
        ``update``), and BrokerManagementError if the broker user cannot be
        made.
        """
        store_id = store.store_id
        existing = await self._find(store_id)
        if existing is not None:
            record = record_from_row(existing)
            wanted = (store.name, store.groups, store.transport)
            if (record.name, record.groups, record.transport) != wanted:
                raise StoreConflictError(
                    f"store {store_id!r} is already registered with name"
                    f" {record.name!r}, groups {record.groups} and transport"
                    f" {record.transport}; change it with `retail-hub store update`"
                )
            await declare_store_queues(
                channel, exchange, settings, store_id, record.groups
            )
            await write_audit(self.repository, "add", store_id, actor, {"new": False})
            logger.info("store %s already registered; nothing changed", store_id)
            return Registration(record, created=False, secrets=None)

        password = new_secret()
        # Create the broker user over the management API while the queues are
        # declared over AMQP, because neither depends on the other.
        user_request = asyncio.create_task(
            _put_broker_user(settings, store_id, password)
        )
        try:
            await declare_store_queues(
                channel, exchange, settings, store_id, store.groups
            )
        except BaseException:
            # Wait for the user request before raising, so no request outlives
            # the call. Its own error, if any, is dropped for this one.
            await asyncio.gather(user_request, return_exceptions=True)
            raise
        broker_user = await user_request
        token = new_secret()
        document = {
            **store.model_dump(exclude={"store_id"}),
            "_id": store_id,
            "token_hash": hash_token(token),
            "broker_user": broker_user,
        }
        try:
            async with translate_unavailable(f"registering store {store_id}"):
                await self._stores.insert_one(document)
        except DuplicateKeyError:
            # NOTE: the other registration may have set the broker password
            # after this one did; `rotate-token --broker-password` resets it.
            raise StoreConflictError(
                f"store {store_id!r} was registered by another process at the same"
                " time; run `retail-hub store rotate-token --broker-password` to get"
                " its secrets"
            ) from None
        await write_audit(
            self.repository,
            "add",
            store_id,
            actor,
            {"new": True, "groups": store.groups, "transport": store.transport},
        )
        logger.info(
            "store %s registered: groups %s, transport %s, broker user %s",
            store_id,
            store.groups,
            store.transport,
            broker_user,
        )
        secrets = StoreSecrets(token, broker_user, password)
        return Registration(await self.get(store_id), created=True, secrets=secrets)

    async def _find(self, store_id: str) -> dict[str, Any] | None:
        async with translate_unavailable(f"reading store {store_id}"):
            return await self._stores.find_one({"_id": store_id})

    async def row(self, store_id: str) -> dict[str, Any]:
        """Return the raw store document, or raise StoreNotFoundError."""
        row = await self._find(store_id)
        if row is None:
            raise StoreNotFoundError(store_id)
        return row


async def _put_broker_user(settings: Settings, store_id: str, password: str) -> str:
    async with BrokerAdmin.from_settings(settings) as users:
        return await users.put_store_user(store_id, password)


def record_from_row(row: dict[str, Any]) -> StoreRecord:
    """Return the StoreRecord of a store document; secrets are left out."""
    return StoreRecord(
        store_id=row["_id"], **{k: v for k, v in row.items() if k != "_id"}
    )
