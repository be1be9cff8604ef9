"""A per-store request-rate limit of the API: a token bucket per store id.

The buckets live in this process's memory, so each API process limits on its
own: behind N processes a store may send up to N times the rate.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimitedError", "RateLimiter"]


class RateLimitedError(Exception):
    """Raised when a store sends requests faster than its rate allows."""

    def __init__(self, store_id: str, retry_after_seconds: int) -> None:
        super().__init__(store_id, retry_after_seconds)
        self.store_id = store_id
        self.retry_after_seconds = retry_after_seconds

    def __str__(self) -> str:
        return (
            f"store {self.store_id!r} sent too many requests;"
            f" retry in {self.retry_after_seconds}s"
        )


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows each key ``rate`` requests per second with bursts of ``burst``.

    ``clock`` returns seconds; tests may pass a fake one.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"invalid rate {rate} or burst {burst}: use rate > 0")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str) -> None:
        """Take one request from the bucket of ``key``, or raise RateLimitedError.

        The error's ``retry_after_seconds`` is the whole number of seconds
        until the bucket contains a request again, at least 1.
        """
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait = (1.0 - bucket.tokens) / self.rate
        raise RateLimitedError(key, max(1, math.ceil(wait)))
