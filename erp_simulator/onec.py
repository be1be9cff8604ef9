"""Value conventions of 1C:Enterprise 8.3's OData interface, and EAN-13 codes.

Every random value is drawn from a ``random.Random`` passed in by the
caller, so one seed always gives the same values.
"""

import base64
import random
import uuid
from typing import Any

__all__ = [
    "EMPTY_DATE",
    "EMPTY_REF",
    "UNDEFINED_TYPE",
    "Row",
    "ean13_check_digit",
    "is_valid_ean13",
    "new_data_version",
    "new_ean13",
    "new_ref",
]

Row = dict[str, Any]
"""One record as 1C returns it in the ``value`` list of a response."""

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
"""The empty reference: 1C's value of a reference field that points nowhere."""

EMPTY_DATE = "0001-01-01T00:00:00"
"""The empty date: 1C's value of a date field that is not filled in."""

UNDEFINED_TYPE = "StandardODATA.Undefined"
"""The ``<field>_Type`` of a composite field whose value is undefined."""

_RUSSIAN_GS1_PREFIX = "460"


def new_ref(rng: random.Random) -> str:
    """Draw a random version 4 GUID, the form of a 1C reference key."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_data_version(rng: random.Random, old: str | None = None) -> str:
    """Draw a ``DataVersion``: the base64 form of 8 random bytes.

    1C changes an object's DataVersion on every write, so a value equal to
    ``old`` is never returned.
    """
    # Two equal 64-bit draws in a row are possible, so the loop is bounded
    # rather than infinite.
    for _ in range(8):
        version = base64.b64encode(rng.getrandbits(64).to_bytes(8, "big")).decode()
        if version != old:
            return version
    raise RuntimeError("random generator returned the same DataVersion 8 times")


def ean13_check_digit(body: str) -> int:
    """Return the EAN-13 check digit of the first 12 digits ``body``.

    Raises ValueError unless ``body`` is exactly 12 ASCII digits.
    """
    if len(body) != 12 or not body.isascii() or not body.isdigit():
        raise ValueError(f"EAN-13 body must be 12 digits, got {body!r}")
    # Digits in odd positions (1st, 3rd, ...) weigh 1, in even positions 3.
    total = sum(
        int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(body)
    )
    return (10 - total % 10) % 10


def is_valid_ean13(code: str) -> bool:
    """Return whether ``code`` is 13 digits with a correct check digit."""
    if len(code) != 13 or not code.isascii() or not code.isdigit():
        return False
    return ean13_check_digit(code[:12]) == int(code[12])


def new_ean13(rng: random.Random) -> str:
    """Draw an EAN-13 barcode with a Russian GS1 prefix and a valid check digit."""
    body = f"{_RUSSIAN_GS1_PREFIX}{rng.randrange(10**9):09d}"
    return f"{body}{ean13_check_digit(body)}"
