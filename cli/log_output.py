"""Where the long-running commands (`lifeline worker`, `lifeline serve`) write Lifeline's own log
lines: standard error at INFO, one line a record. Prefect configures its own loggers."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

FORMAT = "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to whatever ``sys.stderr`` is when a record is emitted, as logging's
    own last-resort handler does, rather than the stream it was created with: a command run
    in-process (a test runner's ``invoke``) swaps ``sys.stderr`` and closes its copy afterwards,
    and a record logged later must not meet a closed file."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """``StreamHandler.__init__`` assigns its stream; the property above decides instead."""


def log_to_stderr() -> None:
    """Lifeline's log lines (the ``lifeline`` logger and below) at INFO on standard error, not
    passed on to the root logger. Called again (a second command in one process), it adds no
    second handler."""
    logger = logging.getLogger("lifeline")
    if not any(isinstance(handler, CurrentStderrHandler) for handler in logger.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
