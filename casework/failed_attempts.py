"""Failed attempts per client address in a sliding window: the one limiter behind the API's failed
authentications (api.rate_limit) and the console's failed sign-ins (console.auth).

After ``limit`` failures within ``window`` an address must wait until its oldest counted failure
leaves the window; ``retry_after`` says how long, in whole seconds (what ``Retry-After`` carries).
Successes are never counted. The state is per process and bounded: past ``MAX_ADDRESSES`` the
address remembered longest is forgotten first.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

#: Addresses remembered at most (the oldest are forgotten first).
MAX_ADDRESSES = 10_000


class FailedAttempts:
    """Thread-safe; callers pass ``now`` (tests move time explicitly)."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds until ``address`` may try again (None: it may now)."""
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                return None
            return max(1, math.ceil((times[-self.limit] + self.window - now).total_seconds()))

    def record_failure(self, address: str, now: datetime) -> None:
        with self._lock:
            self._recent(address, now)
            if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
                del self._failures[next(iter(self._failures))]
            self._failures.setdefault(address, deque()).append(now)
