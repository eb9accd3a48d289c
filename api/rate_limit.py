"""A per-client token-bucket rate limiter, in memory and per process, safe across threads."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimited(Exception):
    """The client has no token left; it may try again after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int):
        super().__init__(f"rate limited; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class RateLimiter:
    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ):
        if not rate_per_second > 0:
            raise ValueError(f"rate_per_second must be positive, not {rate_per_second!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, not {max_clients!r}")
        self.rate_per_second = float(rate_per_second)
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        # client id -> (tokens, time of the last refill); least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client_id: str) -> None:
        """Take one token from the client's bucket, or raise RateLimited if it is empty."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(client_id)
            if bucket is None:
                tokens = float(self.burst)
            else:
                tokens, last = bucket
                elapsed = max(0.0, now - last)
                tokens = min(float(self.burst), tokens + elapsed * self.rate_per_second)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client_id] = (tokens, now)
            self._buckets.move_to_end(client_id)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        if not allowed:
            wait = (1.0 - tokens) / self.rate_per_second
            # The epsilon absorbs float noise so that a wait of exactly 10 s is not reported as 11.
            raise RateLimited(max(1, math.ceil(wait - 1e-9)))

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)
