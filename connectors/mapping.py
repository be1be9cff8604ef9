"""The result of mapping ERP rows to documents, and helpers for 1C values."""

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EMPTY_DATE",
    "EMPTY_REF",
    "MappingResult",
    "QuarantinedRecord",
    "date_or_none",
    "ref_or_none",
    "text_or_none",
]

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00"


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """An ERP record that could not be mapped, with the reason."""

    key: str | None
    reason: str
    record: dict[str, Any]


@dataclass(slots=True)
class MappingResult:
    """The documents of one full data set, ready for the diff.

    ``documents`` holds the live documents by key with their scope.
    ``deleted`` holds keys the ERP still returns but marks for deletion.
    ``skipped`` counts rows that are not documents (folders, rows for no
    store) and ``pages_read`` the OData pages the data set took.
    """

    documents: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    skipped: int = 0
    pages_read: int = 0


def ref_or_none(value: Any) -> str | None:
    """Return a 1C reference key, or None for the empty reference."""
    if value in (None, "", EMPTY_REF):
        return None
    return str(value)


def date_or_none(value: Any) -> str | None:
    """Return a 1C date, or None for the empty date."""
    if value in (None, "", EMPTY_DATE):
        return None
    return str(value)


def text_or_none(value: Any) -> str | None:
    """Return a string without 1C's padding, or None when it is empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None
