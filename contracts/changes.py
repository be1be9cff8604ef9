"""What travels to stores: changed documents, AMQP batches and pull pages."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "HEADER_ENTITY",
    "HEADER_REV_FROM",
    "HEADER_REV_TO",
    "HEADER_SCHEMA_VERSION",
    "HEADER_SCOPE",
    "ChangeBatch",
    "ChangeDocument",
    "ChangesPage",
    "ErrorBody",
    "batch_message_id",
]

HEADER_ENTITY = "x-entity"
HEADER_SCHEMA_VERSION = "x-schema-version"
HEADER_SCOPE = "x-scope"
HEADER_REV_FROM = "x-rev-from"
HEADER_REV_TO = "x-rev-to"


class ChangeDocument(BaseModel):
    """The latest version of one document, or its tombstone.

    A store applies it only when ``rev`` is newer than the revision it holds
    for ``key``, so duplicates and replays change nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="The document's key within its entity.")
    rev: int = Field(ge=1, description="The entity revision of this version.")
    deleted: bool = Field(description="True for a tombstone: delete the document.")
    hash: str = Field(description="SHA-256 of the canonical JSON of data.")
    data: dict[str, Any] | None = Field(
        description="The document as its entity's contract; null for a tombstone."
    )


class ChangeBatch(BaseModel):
    """The body of one AMQP message: changes of one entity and one scope.

    Documents are in revision order, and ``rev_from``/``rev_to`` are the
    revisions of the first and last one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    schema_version: int
    scope: str
    rev_from: int
    rev_to: int
    documents: list[ChangeDocument]


def batch_message_id(entity: str, scope: str, rev_from: int, rev_to: int) -> str:
    """Return the AMQP message id of a batch.

    The id depends only on what the batch carries, so a batch published again
    after a crash has the same id and a store can detect the redelivery.
    """
    return f"{entity}:{scope}:{rev_from}-{rev_to}"


class ChangesPage(BaseModel):
    """One page of the pull API: the changes of an entity after a revision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_id: str
    entity: str
    documents: list[ChangeDocument] = Field(
        description="Documents and tombstones in revision order; empty if none."
    )
    next_after: int = Field(
        description="Pass this as `after` to get the next page or later changes."
    )
    has_more: bool = Field(description="True when more pages are waiting now.")
    hub_revision: int = Field(
        description="The entity's latest revision that stores may read."
    )


class ErrorBody(BaseModel):
    """The body of every error answer of the HTTP API."""

    error: str = Field(description="A stable machine-readable code.")
    message: str = Field(description="What went wrong and what to do.")
