"""Counters of the OData requests a simulator has served."""

import threading
from collections import Counter

__all__ = ["RequestStats"]


class RequestStats:
    """Counts of served OData requests, in total and per entity set.

    Safe to use from several threads. A request that failed authentication
    is not counted. A request that names no served entity set counts in
    the total only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._by_entity_set: Counter[str] = Counter()

    def record(self, entity_set: str | None) -> None:
        """Count one request, for ``entity_set`` unless it is None."""
        with self._lock:
            self._total += 1
            if entity_set is not None:
                self._by_entity_set[entity_set] += 1

    def reset(self) -> None:
        """Set every count to zero."""
        with self._lock:
            self._total = 0
            self._by_entity_set.clear()

    @property
    def requests_total(self) -> int:
        """Number of requests counted since the start or the last reset."""
        with self._lock:
            return self._total

    @property
    def requests_by_entity_set(self) -> dict[str, int]:
        """A copy of the request counts per entity set name."""
        with self._lock:
            return dict(self._by_entity_set)
