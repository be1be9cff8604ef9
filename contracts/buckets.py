"""Bucket digests: find the few documents where two copies differ.

The digest of a whole entity shows whether a store's copy equals the hub's,
not where they differ. To find that cheaply, keys are placed in a tree of
buckets by the hex SHA-256 of the key: the bucket with prefix ``"3f"`` holds
every key whose SHA-256 starts with ``3f``. Each bucket has a digest (the
count and SHA-256 of its sorted ``<key>:<hash>`` lines, as in
``compute_digest``), so one side sends the digests of a bucket's 16 child
buckets, the other side compares them with its own, and descends only into
the children that differ. A bucket of at most ``LEAF_SIZE`` documents is
sent as its ``key -> hash`` list instead.

With 100,000 documents and 3 of them different, a descent exchanges about
200 hashes (see ``tests/test_verify.py``), not 100,000.

``narrow_down`` runs the descent on the side that holds one copy, with a
function that returns the other side's ``BucketsAnswer`` for a prefix.
"""

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from contracts.changes import ChangeDocument
from contracts.delivery import compute_digest

__all__ = [
    "HEX_DIGITS",
    "LEAF_SIZE",
    "MAX_DOCUMENT_KEYS",
    "MAX_PREFIX_LENGTH",
    "BucketDigest",
    "BucketsAnswer",
    "DocumentsAnswer",
    "DocumentsRequest",
    "Narrowing",
    "answer_buckets",
    "bucket_key",
    "narrow_down",
]

HEX_DIGITS = "0123456789abcdef"
# A bucket with at most this many documents is sent as its key list.
LEAF_SIZE = 64
# Below this prefix length a bucket is sent as its key list whatever its size;
# 8 hex digits split the keys into 4 billion buckets.
MAX_PREFIX_LENGTH = 8
# Keys per request for documents by key.
MAX_DOCUMENT_KEYS = 1000


class BucketDigest(BaseModel):
    """The count and SHA-256 of the live documents of one bucket."""

    model_config = ConfigDict(frozen=True)

    count: int = Field(ge=0, description="Number of live documents.")
    sha256: str = Field(description="Hex SHA-256 of the sorted `key:hash` lines.")


class BucketsAnswer(BaseModel):
    """One side's view of one bucket: its child digests, or its documents.

    Exactly one of ``buckets`` and ``documents`` is set. Empty child buckets
    are left out of ``buckets``.
    """

    entity: str
    revision: int = Field(description="Documents with rev up to this one count.")
    prefix: str = Field(description="Hex prefix of the SHA-256 of the keys.")
    count: int = Field(ge=0, description="Live documents in the bucket.")
    buckets: dict[str, BucketDigest] | None = Field(
        None, description="Digest of each non-empty child bucket, by its prefix."
    )
    documents: dict[str, str] | None = Field(
        None, description="Hash of each live document in the bucket, by key."
    )

    @property
    def hashes(self) -> int:
        """Number of hashes the answer carries."""
        return len(self.buckets or {}) + len(self.documents or {})


class DocumentsRequest(BaseModel):
    """The body of a request for the current versions of keys, to repair a copy."""

    model_config = ConfigDict(extra="forbid")

    keys: list[str] = Field(min_length=1, max_length=MAX_DOCUMENT_KEYS)


class DocumentsAnswer(BaseModel):
    """The current versions of requested keys, tombstones included.

    Keys the store may not read, and keys never stored, are left out.
    """

    entity: str
    revision: int = Field(description="The committed revision the versions come from.")
    documents: list[ChangeDocument]


def bucket_key(key: str) -> str:
    """Return the hex SHA-256 of ``key`` (UTF-8), whose prefixes name its buckets."""
    return hashlib.sha256(key.encode()).hexdigest()


def answer_buckets(
    entity: str, revision: int, documents: Mapping[str, str], prefix: str
) -> BucketsAnswer:
    """Return the answer for bucket ``prefix`` over ``documents`` (key -> hash).

    Raises ValueError for a prefix that is not lowercase hex or longer than
    ``MAX_PREFIX_LENGTH``.
    """
    if len(prefix) > MAX_PREFIX_LENGTH or any(c not in HEX_DIGITS for c in prefix):
        raise ValueError(
            f"invalid bucket prefix {prefix!r}: use 0 to {MAX_PREFIX_LENGTH}"
            " lowercase hex digits"
        )
    inside = {
        key: document_hash
        for key, document_hash in documents.items()
        if bucket_key(key).startswith(prefix)
    }
    answer = BucketsAnswer(
        entity=entity, revision=revision, prefix=prefix, count=len(inside)
    )
    if len(inside) <= LEAF_SIZE or len(prefix) >= MAX_PREFIX_LENGTH:
        answer.documents = inside
        return answer
    children: dict[str, list[tuple[str, str]]] = {}
    depth = len(prefix)
    for key, document_hash in inside.items():
        child = bucket_key(key)[: depth + 1]
        children.setdefault(child, []).append((key, document_hash))
    answer.buckets = {
        child: _bucket_digest(entity, revision, pairs)
        for child, pairs in sorted(children.items())
    }
    return answer


def _bucket_digest(
    entity: str, revision: int, pairs: Iterable[tuple[str, str]]
) -> BucketDigest:
    digest = compute_digest(entity, revision, pairs)
    return BucketDigest(count=digest.count, sha256=digest.sha256)


@dataclass
class Narrowing:
    """The keys where a local copy differs from the remote one, and the cost.

    ``missing`` keys are only remote, ``extra`` keys only local, and
    ``different`` keys have another hash on each side. ``hashes`` counts the
    hashes the remote side sent, and ``requests`` the buckets asked for.
    """

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    hashes: int = 0
    requests: int = 0

    @property
    def differing(self) -> int:
        """Number of keys whose documents differ or exist on one side only."""
        return len(self.missing) + len(self.extra) + len(self.different)


FetchBuckets = Callable[[str], Awaitable[BucketsAnswer]]
"""Return the remote side's answer for a bucket prefix."""


async def narrow_down(
    local: Mapping[str, str],
    fetch: FetchBuckets,
    entity: str,
    revision: int,
    max_requests: int = 10_000,
) -> Narrowing:
    """Find the keys where ``local`` (key -> hash) differs from the remote copy.

    Starts at the root bucket and descends only into buckets whose digests
    differ. Raises RuntimeError after ``max_requests`` buckets, which only a
    copy that differs almost everywhere reaches.
    """
    by_bucket = {key: bucket_key(key) for key in local}
    result = Narrowing()
    pending = [""]
    while pending:
        if result.requests >= max_requests:
            raise RuntimeError(
                f"narrowing {entity} stopped after {max_requests} bucket requests;"
                " the copies differ too widely, so pull the entity again from 0"
            )
        prefix = pending.pop()
        remote = await fetch(prefix)
        result.requests += 1
        result.hashes += remote.hashes
        mine = {
            key: local[key]
            for key, bucket in by_bucket.items()
            if bucket[: len(prefix)] == prefix
        }
        if remote.documents is not None:
            _compare_documents(mine, remote.documents, result)
            continue
        ours: dict[str, list[tuple[str, str]]] = {}
        for key, document_hash in mine.items():
            ours.setdefault(by_bucket[key][: len(prefix) + 1], []).append(
                (key, document_hash)
            )
        theirs = remote.buckets or {}
        for child in sorted(ours.keys() | theirs.keys(), reverse=True):
            pairs = ours.get(child, [])
            if child not in theirs:
                result.extra.extend(key for key, _ in pairs)
            elif not pairs or _bucket_digest(entity, revision, pairs) != theirs[child]:
                pending.append(child)
    result.missing.sort()
    result.extra.sort()
    result.different.sort()
    return result


def _compare_documents(
    mine: Mapping[str, str], theirs: Mapping[str, str], result: Narrowing
) -> None:
    result.missing.extend(key for key in theirs if key not in mine)
    result.extra.extend(key for key in mine if key not in theirs)
    result.different.extend(
        key for key in mine if key in theirs and mine[key] != theirs[key]
    )
