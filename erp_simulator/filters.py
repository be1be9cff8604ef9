"""Parse and evaluate the ``$filter`` expressions the simulator supports.

The supported form is one or more comparisons ``Field eq value`` or
``Field ne value`` joined by ``and``. A value is ``true`` or ``false``, a
number, a string in single quotes (a quote inside is doubled), a
``guid'...'`` or a ``datetime'...'``. Anything else is rejected with
FilterSyntaxError, as 1C rejects a filter it cannot parse.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from erp_simulator.onec import Row

__all__ = ["Comparison", "FilterSyntaxError", "matches", "parse_filter"]

_COMPARISON = re.compile(
    r"""\s*(?P<field>[^\W\d]\w*)\s+(?P<operator>eq|ne)\s+
    (?P<value>guid'[0-9a-fA-F-]{36}'|datetime'[0-9T:.-]+'|'(?:[^']|'')*'
      |true|false|-?\d+(?:\.\d+)?)\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"and\s", re.IGNORECASE)


class FilterSyntaxError(ValueError):
    """Raised for a ``$filter`` expression outside the supported form."""


@dataclass(frozen=True)
class Comparison:
    """One ``Field eq value`` or ``Field ne value`` term of a filter."""

    field: str
    negated: bool
    value: bool | int | float | str
    is_guid: bool = False

    def holds_for(self, row: Row) -> bool:
        """Return whether ``row`` satisfies the comparison.

        A row without the field is never equal to the value.
        """
        if self.field not in row:
            return self.negated
        return _equal(row[self.field], self.value, self.is_guid) != self.negated


def _equal(actual: Any, expected: bool | int | float | str, is_guid: bool) -> bool:
    # Python treats True as equal to 1, while OData keeps booleans and
    # numbers apart, so types are compared first.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and actual is expected
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and actual == expected
    if not isinstance(actual, str):
        return False
    if is_guid:
        return actual.lower() == expected.lower()
    return actual == expected


def _parse_value(text: str) -> tuple[bool | int | float | str, bool]:
    """Return the value of a literal, and whether it is a GUID."""
    if text in ("true", "false"):
        return text == "true", False
    if text.startswith("guid'"):
        return text[5:-1], True
    if text.startswith("datetime'"):
        return text[9:-1], False
    if text.startswith("'"):
        return text[1:-1].replace("''", "'"), False
    if "." in text:
        return float(text), False
    return int(text), False


def parse_filter(expression: str) -> list[Comparison]:
    """Parse a ``$filter`` expression into comparisons that must all hold.

    Raises FilterSyntaxError naming the position where parsing stopped.
    """
    comparisons: list[Comparison] = []
    position = 0
    while True:
        match = _COMPARISON.match(expression, position)
        if match is None:
            raise FilterSyntaxError(
                f"ожидается сравнение «Поле eq значение» в позиции {position + 1}"
            )
        value, is_guid = _parse_value(match["value"])
        comparisons.append(
            Comparison(match["field"], match["operator"] == "ne", value, is_guid)
        )
        position = match.end()
        if position == len(expression):
            return comparisons
        conjunction = _AND.match(expression, position)
        if conjunction is None:
            raise FilterSyntaxError(f"ожидается «and» в позиции {position + 1}")
        position = conjunction.end()


def matches(row: Row, comparisons: Sequence[Comparison]) -> bool:
    """Return whether ``row`` satisfies every comparison."""
    return all(comparison.holds_for(row) for comparison in comparisons)
