"""Where a read-only route's blocking work runs: ``models.db.short_read`` (the console uses it too)."""

from __future__ import annotations

from models.db import short_read

__all__ = ["short_read"]
