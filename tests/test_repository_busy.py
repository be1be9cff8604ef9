"""Which repository errors count as a busy server, worth a retry."""

from typing import Any

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from hub.errors import RepositoryUnavailableError
from hub.repository import is_busy, translate_unavailable

LOCKED = "[collection.go:191 sqlite.(*collection).UpdateAll] database is locked (5)"


def _failure(message: str, code: int) -> OperationFailure:
    return OperationFailure(
        message, code=code, details={"ok": 0.0, "errmsg": message, "code": code}
    )


def test_locked_database_is_busy() -> None:
    assert is_busy(_failure(LOCKED, 1))


def test_write_conflict_is_busy() -> None:
    assert is_busy(_failure("WriteConflict", 112))


def test_other_failure_is_not_busy() -> None:
    assert not is_busy(_failure("unknown operator: $foo", 2))


def test_document_text_does_not_count() -> None:
    # The error texts of these carry the documents written, which may
    # contain any words.
    duplicate = DuplicateKeyError(
        "E11000 duplicate key",
        code=11000,
        details={"errmsg": 'E11000 dup key: { _id: "database is locked" }'},
    )
    details: dict[str, Any] = {
        "writeErrors": [
            {"index": 0, "code": 11000, "errmsg": "E11000", "op": {"note": LOCKED}}
        ],
        "nInserted": 0,
    }
    assert not is_busy(duplicate)
    assert not is_busy(BulkWriteError(details))


async def test_busy_error_becomes_unavailable() -> None:
    with pytest.raises(RepositoryUnavailableError, match="repository busy"):
        async with translate_unavailable("writing a test"):
            raise _failure(LOCKED, 1)


async def test_other_failure_passes_through() -> None:
    with pytest.raises(OperationFailure, match="unknown operator"):
        async with translate_unavailable("writing a test"):
            raise _failure("unknown operator: $foo", 2)
