"""The OData query options the simulator supports, and applying them to rows.

Supported: ``$filter`` (see ``erp_simulator.filters``), ``$orderby`` (a
comma list of fields, each optionally ``asc`` or ``desc``), ``$select``,
``$top``, ``$skip`` and ``$inlinecount``. Other options are ignored. Like
1C, the simulator returns every matching row unless ``$top`` limits them,
and never adds an ``odata.nextLink``.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from erp_simulator.filters import Comparison, FilterSyntaxError, matches, parse_filter
from erp_simulator.onec import Row

__all__ = ["QueryError", "QueryOptions", "QueryResult", "apply_query", "parse_query"]


class QueryError(ValueError):
    """Raised for a query option the simulator cannot parse or apply.

    ``str(error)`` is a message in Russian, as 1C writes them.
    """


@dataclass(frozen=True)
class SortKey:
    """One field of ``$orderby`` and its direction."""

    field: str
    descending: bool


@dataclass(frozen=True)
class QueryOptions:
    """The parsed query options of one request."""

    comparisons: tuple[Comparison, ...] = ()
    order_by: tuple[SortKey, ...] = ()
    select: tuple[str, ...] | None = None
    top: int | None = None
    skip: int = 0
    inline_count: bool = False


@dataclass(frozen=True)
class QueryResult:
    """The rows of one page, and the count of all rows the filter matched."""

    rows: list[Row]
    count: int


def _parse_count(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise QueryError(
            f"Неправильное значение параметра {name}: «{text}». "
            "Ожидается неотрицательное целое число"
        )
    return int(text)


def _parse_order_by(text: str) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in text.split(","):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) not in (1, 2) or direction not in ("asc", "desc"):
            raise QueryError(f"Неправильное значение параметра $orderby: «{text}»")
        keys.append(SortKey(words[0], direction == "desc"))
    return tuple(keys)


def _parse_select(text: str) -> tuple[str, ...] | None:
    fields = tuple(field.strip() for field in text.split(","))
    if "*" in fields:
        return None
    if not all(fields):
        raise QueryError(f"Неправильное значение параметра $select: «{text}»")
    return fields


def _parse_inline_count(text: str | None) -> bool:
    if text is None or text == "none":
        return False
    if text == "allpages":
        return True
    raise QueryError(
        f"Неправильное значение параметра $inlinecount: «{text}». "
        "Допустимы allpages и none"
    )


def parse_query(params: Mapping[str, str]) -> QueryOptions:
    """Parse the query options among the URL parameters ``params``.

    Raises QueryError for a malformed value of a supported option.
    """
    comparisons: tuple[Comparison, ...] = ()
    if "$filter" in params:
        try:
            comparisons = tuple(parse_filter(params["$filter"]))
        except FilterSyntaxError as error:
            raise QueryError(f"Ошибка разбора параметра $filter: {error}") from error
    order_by = params.get("$orderby")
    select = params.get("$select")
    return QueryOptions(
        comparisons=comparisons,
        order_by=_parse_order_by(order_by) if order_by is not None else (),
        select=_parse_select(select) if select is not None else None,
        top=_parse_count("$top", params.get("$top")),
        skip=_parse_count("$skip", params.get("$skip")) or 0,
        inline_count=_parse_inline_count(params.get("$inlinecount")),
    )


def _sort_value(value: Any) -> tuple[int, Any]:
    """Return a key that orders values of mixed types without TypeError."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, repr(value))


def _sort_key(field: str) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        return _sort_value(row.get(field))

    return key


def _check_fields(rows: Sequence[Row], options: QueryOptions) -> None:
    """Raise QueryError if an option names a field no row has."""
    if not rows:
        return
    known: set[str] = set()
    for row in rows:
        known.update(row)
    named = [comparison.field for comparison in options.comparisons]
    named += [key.field for key in options.order_by]
    named += list(options.select or ())
    for field in named:
        if field not in known:
            raise QueryError(f"Неизвестное поле «{field}» в параметрах запроса")


def apply_query(rows: Sequence[Row], options: QueryOptions) -> QueryResult:
    """Filter, sort, page and project ``rows`` as ``options`` ask.

    Returns new row dicts when ``$select`` is given and the given ones
    otherwise. Raises QueryError if an option names an unknown field.
    """
    if options.comparisons or options.order_by or options.select:
        _check_fields(rows, options)
    selected = [row for row in rows if matches(row, options.comparisons)]
    # Python's sort is stable, so sorting by the last key first and the
    # first key last orders by all keys.
    for key in reversed(options.order_by):
        selected.sort(key=_sort_key(key.field), reverse=key.descending)
    end = None if options.top is None else options.skip + options.top
    page = selected[options.skip : end]
    if options.select is not None:
        fields = set(options.select)
        page = [{k: v for k, v in row.items() if k in fields} for row in page]
    return QueryResult(page, len(selected))
