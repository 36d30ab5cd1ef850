"""``replace`` for the engine's frozen dataclasses, without ``dataclasses.replace``'s cost.

The engine never mutates a state: every step builds a new ``CaseState``, ``ClockState`` or
``StageState`` with a few fields changed, ~12 times per escalated case. ``dataclasses.replace``
inspects the class's fields and calls ``__init__`` each time (~5 us); the sweep's profile put it at
a fifth of the engine (bench/README.md). Here the instance's field values are copied as they are
and the changed ones set, which gives an equal object: these classes have no ``__post_init__`` and
no field that ``__init__`` leaves out. An unknown field is refused as ``dataclasses.replace``
refuses it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")

_NAMES: dict[type, frozenset[str]] = {}


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the frozen dataclass ``obj`` with ``changes`` (field name -> value) applied."""
    cls = type(obj)
    names = _NAMES.get(cls)
    if names is None:
        # Checked before the names are cached, so that every call on such a class is refused.
        if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
            raise TypeError(f"{cls.__name__} needs dataclasses.replace")
        names = _NAMES[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    if not names.issuperset(changes):
        unknown = ", ".join(sorted(set(changes) - names))
        raise TypeError(f"{cls.__name__} has no field {unknown}")
    new: T = object.__new__(cls)
    values = new.__dict__
    values.update(obj.__dict__)
    values.update(changes)
    return new
