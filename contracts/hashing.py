"""The canonical JSON of a document, and its hash."""

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "document_hash"]


def canonical_json(data: dict[str, Any]) -> bytes:
    """Return ``data`` as JSON with sorted keys and no insignificant spaces."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode()


def document_hash(data: dict[str, Any]) -> str:
    """Return the hex SHA-256 of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data)).hexdigest()
