"""The difference between two JSON documents as JSON pointers (RFC 6901): what ``lifeline policies
apply --dry-run`` shows for each changed policy file against its registered version.

Objects are compared key by key; arrays index by index (an element inserted in the middle reads as
changes to the ones after it and one added at the end, which is what a reader of two versions of a
ladder of stages sees anyway). A value whose type changed is one change at its pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Change:
    """``op`` is ``added``, ``removed`` or ``changed``; ``old`` / ``new`` are None where absent."""

    op: str
    pointer: str
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"op": self.op, "pointer": self.pointer}
        if self.op != "added":
            body["old"] = self.old
        if self.op != "removed":
            body["new"] = self.new
        return body


def escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer_diff(old: Any, new: Any, pointer: str = "") -> list[Change]:
    """Every added, removed and changed pointer from ``old`` to ``new``, in document order."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in [*old, *(k for k in new if k not in old)]:
            changes += _pair(old.get(key, _MISSING), new.get(key, _MISSING), f"{pointer}/{escape(key)}")
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else _MISSING
            after = new[index] if index < len(new) else _MISSING
            changes += _pair(before, after, f"{pointer}/{index}")
        return changes
    if old == new and type(old) is type(new):
        return []
    return [Change("changed", pointer or "/", old, new)]


def _pair(old: Any, new: Any, pointer: str) -> list[Change]:
    if old is _MISSING:
        return [Change("added", pointer, new=new)]
    if new is _MISSING:
        return [Change("removed", pointer, old=old)]
    return pointer_diff(old, new, pointer)
