"""Bodies of the delivery API: server cursors, digests and heartbeats.

The digest of a set of documents is computed the same way by the hub and by
a store, so both can compare their copies without sending the documents: the
number of live documents, and the hex SHA-256 of the lines ``<key>:<hash>\\n``
sorted by key. Tombstones are not part of it.
"""

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "CursorAck",
    "CursorState",
    "Digest",
    "HeartbeatAnswer",
    "HeartbeatRequest",
    "compute_digest",
]


# Revisions and counts are stored as MongoDB's signed 64-bit integers, so a
# larger value must fail validation (422) before it reaches the repository.
MAX_INT64 = 2**63 - 1
Revision = Annotated[int, Field(ge=0, le=MAX_INT64)]
# Entity names become MongoDB field names of the store's state, which may not
# contain "." or start with "$".
EntityName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Digest(BaseModel):
    """The count and SHA-256 of a store's live documents of one entity."""

    model_config = ConfigDict(frozen=True)

    entity: str
    revision: int = Field(
        ge=0, le=MAX_INT64, description="Documents with rev up to this one count."
    )
    count: int = Field(ge=0, le=MAX_INT64, description="Number of live documents.")
    sha256: str = Field(description="Hex SHA-256 of the sorted `key:hash` lines.")


def compute_digest(
    entity: str, revision: int, documents: Iterable[tuple[str, str]]
) -> Digest:
    """Return the digest of ``(key, hash)`` pairs of live documents.

    The order of ``documents`` does not matter. Raises ValueError when a key
    appears twice, because a copy holds one version of each document.
    """
    pairs = sorted(documents)
    sha = hashlib.sha256()
    previous: str | None = None
    for key, document_hash in pairs:
        if key == previous:
            raise ValueError(f"duplicate key {key!r} in the digest of {entity}")
        previous = key
        sha.update(f"{key}:{document_hash}\n".encode())
    return Digest(
        entity=entity, revision=revision, count=len(pairs), sha256=sha.hexdigest()
    )


class CursorState(BaseModel):
    """A store's server-kept cursor: the last revision it acknowledged."""

    store_id: str
    entity: str
    revision: int = Field(description="Changes up to this revision are acknowledged.")
    hub_revision: int = Field(description="The entity's committed revision.")


class CursorAck(BaseModel):
    """The body of a cursor acknowledgement."""

    model_config = ConfigDict(extra="forbid")

    revision: int = Field(ge=0, description="The last revision the store committed.")


class HeartbeatRequest(BaseModel):
    """What a store agent reports about itself."""

    model_config = ConfigDict(extra="forbid")

    agent_version: str = Field(max_length=64)
    mode: Literal["amqp", "pull"]
    applied: dict[EntityName, Revision] = Field(
        default_factory=dict, description="Applied revision per entity."
    )
    replayed: dict[EntityName, Revision] = Field(
        default_factory=dict,
        description="Replays finished since the last heartbeat: entity to the"
        " `replay_from` revision the agent pulled from.",
    )
    digests: dict[EntityName, Digest] = Field(
        default_factory=dict,
        description="Digest of the agent's copy of each entity at its applied"
        " revision, for `retail-hub verify`.",
    )


class HeartbeatAnswer(BaseModel):
    """What the hub asks of a store agent in reply to a heartbeat."""

    store_id: str
    received_at: datetime
    catch_up: list[str] = Field(
        default_factory=list,
        description="Entities to pull now from the applied revision, because"
        " the store's queue stopped being fed.",
    )
    replay_from: dict[str, int] = Field(
        default_factory=dict,
        description="Entities to pull again from a revision an operator set.",
    )
