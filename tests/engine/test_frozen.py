"""The engine's fast ``replace``: an equal copy with the changes, and a clear refusal for what it
cannot copy safely (an unknown field; a class with ``__post_init__`` or ``__slots__``, which a
future state class might add)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sla_engine.frozen import replace
from sla_engine.kinds import ClockStatus
from sla_engine.state import ClockState, Meter


@dataclass(frozen=True, slots=True)
class Slotted:
    a: int


@dataclass(frozen=True)
class Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


def test_replace_copies_with_the_changes_and_leaves_the_original() -> None:
    clock = ClockState("first_response", ClockStatus.PENDING, Meter())
    running = replace(clock, status=ClockStatus.RUNNING)
    assert running == ClockState("first_response", ClockStatus.RUNNING, Meter())
    assert clock.status is ClockStatus.PENDING


def test_replace_refuses_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="ClockState has no field colour"):
        replace(ClockState("x", ClockStatus.PENDING, Meter()), colour="red")
    with pytest.raises(TypeError, match="^ClockState has no field colour, size$"):  # sorted, all named
        replace(
            ClockState("x", ClockStatus.PENDING, Meter()), size=1, colour="red", status=ClockStatus.RUNNING
        )


@pytest.mark.parametrize("obj", [Slotted(1), Checked(1)], ids=["slots", "post_init"])
def test_replace_refuses_classes_it_cannot_copy_safely(obj: object) -> None:
    for _ in range(2):  # every time, not only the first (the field names are cached per class)
        with pytest.raises(TypeError, match="needs dataclasses.replace"):
            replace(obj, a=2)
