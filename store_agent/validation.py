"""Checks that a batch or page from the hub is what the contracts promise.

The agent writes nothing of a batch that fails a check: a message is rejected
and a pull page is not applied.
"""

from collections.abc import Sequence

from pydantic import ValidationError

from contracts import ChangeBatch, ChangeDocument, document_hash, get_entity

__all__ = ["InvalidChangesError", "check_documents", "parse_batch"]


class InvalidChangesError(ValueError):
    """Raised when a batch or page breaks the contract.

    The message names the broken rule and, for a document, its key.
    """


def parse_batch(body: bytes, entity: str) -> ChangeBatch:
    """Parse an AMQP message body into a ChangeBatch of ``entity`` and check it.

    Raises InvalidChangesError for invalid JSON, a body of the wrong shape, a
    batch of another entity, an unsupported schema_version, revisions outside
    rev_from..rev_to, or a document that check_documents rejects.
    """
    try:
        batch = ChangeBatch.model_validate_json(body)
    except ValidationError as error:
        raise InvalidChangesError(_summarize(error)) from None

    if batch.entity != entity:
        raise InvalidChangesError(
            f"batch of entity {batch.entity!r} in the queue of entity {entity!r}"
        )

    expected_version = get_entity(entity).schema_version
    if batch.schema_version != expected_version:
        raise InvalidChangesError(
            f"unsupported schema_version {batch.schema_version} of {entity!r};"
            f" this agent reads version {expected_version}"
        )

    for document in batch.documents:
        if not batch.rev_from <= document.rev <= batch.rev_to:
            raise InvalidChangesError(
                f"document {document.key!r} has rev {document.rev}, outside the"
                f" batch's range {batch.rev_from}-{batch.rev_to}"
            )

    check_documents(entity, batch.documents)
    return batch


def check_documents(entity: str, documents: Sequence[ChangeDocument]) -> None:
    """Raise InvalidChangesError unless every document is a valid version.

    A tombstone must have no data. Any other document must have data that
    validates as the entity's contract model, and a hash equal to the
    SHA-256 of the data's canonical JSON. The message names the key.
    """
    model = get_entity(entity).model

    for document in documents:
        if document.deleted:
            if document.data is not None:
                raise InvalidChangesError(
                    f"tombstone {document.key!r} carries data; expected null"
                )
            continue

        if document.data is None:
            raise InvalidChangesError(
                f"document {document.key!r} has null data but is not deleted"
            )

        try:
            model.model_validate(document.data)
        except ValidationError as error:
            raise InvalidChangesError(
                f"document {document.key!r} is not a valid {entity} document:"
                f" {_summarize(error)}"
            ) from None

        if document_hash(document.data) != document.hash:
            raise InvalidChangesError(
                f"document {document.key!r} has a hash that does not match its data"
            )


def _summarize(error: ValidationError, limit: int = 3) -> str:
    """Return the first few errors of ``error`` on one line."""
    parts = []
    for detail in error.errors()[:limit]:
        location = ".".join(str(part) for part in detail["loc"]) or "body"
        parts.append(f"{location}: {detail['msg']}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
