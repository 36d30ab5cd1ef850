"""Failed authentication, limited per client address: a sliding window of ``limit`` failures per
``window``. Past it, requests from that address that need a key are answered 429 with
``Retry-After`` until the oldest failure leaves the window, whatever key they carry: a guesser
learns nothing more. Successful requests never count.

The address is the connection's peer (``scope["client"]``): behind a reverse proxy that is the
proxy's, so start uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` there. The state
is per process (several API processes each allow ``limit``).
"""

from __future__ import annotations

from datetime import timedelta

from casework.failed_attempts import FailedAttempts

#: Failures allowed per address and window before 429.
FAILURES_ALLOWED = 20
FAILURE_WINDOW = timedelta(minutes=1)


class FailedAuthLimiter(FailedAttempts):
    def __init__(self, limit: int = FAILURES_ALLOWED, window: timedelta = FAILURE_WINDOW) -> None:
        super().__init__(limit, window)
