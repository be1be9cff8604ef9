"""Compare a store's copy of an entity with the hub's view for that store."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.repository import Repository
from hub.stores import StoreRecord

__all__ = ["Comparison", "StoredVersion", "compare_store"]


class StoredVersion(Protocol):
    """The version of one document that a store contains."""

    @property
    def rev(self) -> int: ...
    @property
    def hash(self) -> str: ...
    @property
    def data(self) -> dict[str, Any] | None: ...


@dataclass
class Comparison:
    """The result of comparing one store's copy of one entity with the hub."""

    store_id: str
    entity: str
    store_documents: int
    hub_documents: int
    store_revision: int
    hub_revision: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        """True when the store contains exactly the hub's documents."""
        return not (self.missing or self.extra or self.different)

    @property
    def converged(self) -> bool:
        """True when the store matches and has read up to the hub's revision."""
        return self.matches and self.store_revision >= self.hub_revision


async def compare_store(
    repository: Repository,
    store: StoreRecord,
    entity: str,
    store_documents: Mapping[str, StoredVersion],
    store_revision: int,
) -> Comparison:
    """Compare every live document of a store with the hub's, content included."""
    hub_revision = await repository.committed_revision(entity)
    hub_documents = await repository.live_documents(entity, store.scopes)
    result = Comparison(
        store.store_id,
        entity,
        len(store_documents),
        len(hub_documents),
        store_revision,
        hub_revision,
    )
    result.missing = sorted(hub_documents.keys() - store_documents.keys())
    result.extra = sorted(store_documents.keys() - hub_documents.keys())
    for key in sorted(hub_documents.keys() & store_documents.keys()):
        ours, theirs = hub_documents[key], store_documents[key]
        if (ours.rev, ours.hash, ours.data) != (theirs.rev, theirs.hash, theirs.data):
            result.different.append(key)
    return result
