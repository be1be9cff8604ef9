"""The store registry: which stores exist, their groups, and their queues."""

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from aio_pika.abc import AbstractChannel, AbstractExchange
from pydantic import BaseModel, Field, field_validator

from contracts import ENTITIES, store_scopes, validate_name
from hub.broker import declare_store_queue
from hub.errors import StoreNotFoundError
from hub.repository import Repository, translate_unavailable
from hub.settings import Settings

__all__ = ["StoreRecord", "StoreRegistry", "Transport"]

logger = logging.getLogger(__name__)

Transport = Literal["amqp", "pull"]


class StoreRecord(BaseModel):
    """A registered store."""

    store_id: str
    name: str
    groups: list[str] = Field(default_factory=list)
    transport: Transport = "amqp"
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

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


class StoreRegistry:
    """Registers stores in the repository and declares their queues."""

    def __init__(self, repository: Repository) -> None:
        self._stores = repository.db.stores

    async def get(self, store_id: str) -> StoreRecord:
        """Return a registered store, or raise StoreNotFoundError."""
        async with translate_unavailable(f"reading store {store_id}"):
            row = await self._stores.find_one({"_id": store_id})
        if row is None:
            raise StoreNotFoundError(store_id)
        return _record(row)

    async def list(self) -> list[StoreRecord]:
        """Return every registered store, ordered by id."""
        async with translate_unavailable("listing stores"):
            rows = await self._stores.find({}).sort("_id", 1).to_list(None)
        return [_record(row) for row in rows]

    async def register(
        self,
        store: StoreRecord,
        channel: AbstractChannel,
        exchange: AbstractExchange,
        settings: Settings,
    ) -> StoreRecord:
        """Register ``store`` and declare its queues; registering again is a no-op.

        The queues are declared first, so a store is never listed as
        registered without its queues. An existing store keeps its creation
        time; its name, groups and transport are updated.
        """
        for entity in ENTITIES:
            await declare_store_queue(
                channel,
                exchange,
                settings,
                store_id=store.store_id,
                entity=entity,
                groups=store.groups,
            )
        fields = store.model_dump(exclude={"store_id", "created_at"})
        async with translate_unavailable(f"registering store {store.store_id}"):
            await self._stores.update_one(
                {"_id": store.store_id},
                {"$set": fields, "$setOnInsert": {"created_at": store.created_at}},
                upsert=True,
            )
        logger.info(
            "store %s registered: groups %s, transport %s",
            store.store_id,
            store.groups,
            store.transport,
        )
        return await self.get(store.store_id)


def _record(row: dict[str, Any]) -> StoreRecord:
    return StoreRecord(
        store_id=row["_id"], **{k: v for k, v in row.items() if k != "_id"}
    )
