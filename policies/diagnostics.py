"""Problems found in a policy, calendar or channels file, as values.

Loading never raises for bad input: it returns every problem it found, each with the file, the JSON
pointer of the offending value (RFC 6901; ``""`` is the whole document) and a message for a person.
The convenience loaders raise :class:`PolicyError`, which carries the same list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem. Errors refuse the file; warnings are advice (``policies lint --strict`` fails on them)."""

    file: str
    pointer: str
    message: str
    severity: Severity = Severity.ERROR
    #: The line of the file where the value at ``pointer`` starts (None when unknown).
    line: int | None = None

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "file": self.file,
            "pointer": self.pointer,
            "line": self.line,
            "severity": str(self.severity),
            "message": self.message,
        }

    def as_line(self) -> str:
        """``file: /pointer: message (line N)`` (``warning: `` before the message of a warning; ``/``
        for the root; the line when known)."""
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        where = f" (line {self.line})" if self.line is not None else ""
        return f"{self.file}: {self.pointer or '/'}: {prefix}{self.message}{where}"


@dataclass(frozen=True)
class LoadResult(Generic[T]):
    """What loading one file produced: the parsed value when it has no error, and every diagnostic."""

    file: str
    value: T | None
    diagnostics: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


class PolicyError(ValueError):
    """Raised by the convenience loaders when a file has errors; ``diagnostics`` lists all of them."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        lines = [d.as_line() for d in self.diagnostics if d.severity is Severity.ERROR]
        super().__init__("\n".join(lines) or "invalid policy")


def pointer(*parts: str | int) -> str:
    """The JSON pointer of ``parts`` (``pointer("stages", 2, "id")`` -> ``/stages/2/id``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def pointer_of(parts: Iterable[str | int]) -> str:
    return pointer(*parts)
