"""The diff of a full ERP data set against the repository."""

import hashlib
from dataclasses import dataclass

from connectors.mapping import MappingResult
from contracts import canonical_json
from hub.repository import IndexEntry, PendingChange

__all__ = ["TOMBSTONE_HASH", "Diff", "diff_snapshot"]

# Every tombstone has the same hash, so deleting a document twice is no change.
TOMBSTONE_HASH = "deleted"


@dataclass(slots=True)
class Diff:
    """What must be written to bring the repository to one ERP snapshot."""

    changes: list[PendingChange]
    unchanged: int
    deletions: int
    live_before: int


def diff_snapshot(index: dict[str, IndexEntry], mapped: MappingResult) -> Diff:
    """Compare a full data set with the stored documents.

    A document is a change when it is new, or its hash or scope differs. A
    stored live document becomes a tombstone when the ERP marked it for
    deletion or left it out of the data set, unless the row was quarantined. Changes are
    ordered by key, so two runs over the same data assign revisions in the
    same order.
    """
    changes: list[PendingChange] = []
    unchanged = 0

    for key in sorted(mapped.documents):
        scope, data = mapped.documents[key]
        encoded = canonical_json(data)
        digest = hashlib.sha256(encoded).hexdigest()
        stored = index.get(key)
        # NOTE: a document that moves to another scope leaves the old scope's
        # view, but stores of the old scope are sent no tombstone and keep it.
        moves_scope = stored is not None and stored.scope != scope
        if (
            stored is not None
            and not stored.deleted
            and stored.hash == digest
            and not moves_scope
        ):
            unchanged += 1
            continue
        changes.append(
            PendingChange(
                key, digest, scope, data, stored is not None, encoded, moves_scope
            )
        )

    # A quarantined record keeps its last good version instead of being deleted.
    quarantined = {record.key for record in mapped.quarantined}
    deletions = 0
    live_before = 0
    for key in sorted(index):
        stored = index[key]
        if stored.deleted:
            continue
        live_before += 1
        if key not in mapped.documents and key not in quarantined:
            changes.append(PendingChange(key, TOMBSTONE_HASH, stored.scope, None))
            deletions += 1

    return Diff(changes, unchanged, deletions, live_before)
