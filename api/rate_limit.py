"""Failed authentication, limited per client address: a sliding window of ``limit`` failures per
``window``. Past it, requests from that address that need a key are answered 429 with
``Retry-After`` until the oldest failure leaves the window, whatever key they carry: a guesser
learns nothing more. Successful requests never count.

The address is the connection's peer (``scope["client"]``): behind a reverse proxy that is the
proxy's, so start uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` there. The state
is per process (several API processes each allow ``limit``).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

#: Failures allowed per address and window before 429.
FAILURES_ALLOWED = 20
FAILURE_WINDOW = timedelta(minutes=1)
#: Addresses remembered at most (the oldest are forgotten first).
MAX_ADDRESSES = 10_000


class FailedAuthLimiter:
    def __init__(self, limit: int = FAILURES_ALLOWED, window: timedelta = FAILURE_WINDOW) -> None:
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
