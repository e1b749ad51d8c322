"""Token-bucket rate limits per organization, per vehicle and per public client.

In-process: each API worker process keeps its own buckets, so with W workers the effective
limit is up to W times the configured one (a shared store such as PostgreSQL or Redis would
be needed for one global limit).
"""

from __future__ import annotations

import math
import threading
import time

from silkgate.core.errors import FieldError, SilkgateError


class RateLimited(SilkgateError):
    """429 with the seconds to wait before the next request can pass."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            "Too many requests",
            429,
            f"rate limit of the {what} reached; retry after {self.retry_after} s",
            [FieldError("/headers/authorization", "rate_limited", f"{what} rate limit")],
            "rate-limited",
        )


class TokenBuckets:
    """Buckets of ``burst`` tokens refilled at ``rate`` per second, one per key."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                if len(self._buckets) >= self.max_keys and key not in self._buckets:
                    self._buckets.clear()  # bounded memory; a reset only ever lets more through
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class QueueLimits:
    """The three limiters of the queue routes."""

    def __init__(
        self,
        org_rate: float,
        org_burst: int,
        vehicle_per_minute: float,
        vehicle_burst: int,
        public_rate: float,
    ) -> None:
        self.org = TokenBuckets(org_rate, org_burst)
        self.vehicle = TokenBuckets(vehicle_per_minute / 60.0, vehicle_burst)
        self.public = TokenBuckets(public_rate, max(1, int(public_rate * 5)))

    def check(self, buckets: TokenBuckets, key: str, what: str) -> None:
        wait = buckets.take(key)
        if wait > 0:
            raise RateLimited(what, wait)
