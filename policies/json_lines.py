"""Where each value of a JSON text starts: JSON pointer -> line number, so a diagnostic found on
the parsed document can say the line of the file as well as the pointer.

A member's line is the line of its key (where a person looks for ``"warn_at": 2``); an array
item's, the line where the item starts. Only called on text that already parsed as JSON.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from json import decoder

from policies.diagnostics import Diagnostic, pointer_of

#: The standard library's JSON string scanner (undeclared in its stubs): (text, index after the
#: opening quote) -> (the string, index after the closing quote).
scanstring: Callable[[str, int], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]
_WHITESPACE = " \t\r\n"
_DELIMITERS = ",]}" + _WHITESPACE


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.lines: dict[str, int] = {}

    def line_at(self, index: int) -> int:
        return bisect_right(self.newlines, index - 1) + 1

    def skip(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in _WHITESPACE:
            i += 1
        return i

    def value(self, i: int, path: list[str | int], line: int | None = None) -> int:
        i = self.skip(i)
        self.lines.setdefault(pointer_of(path), line or self.line_at(i))
        char = self.text[i] if i < len(self.text) else ""
        if char == "{":
            return self.members(i + 1, path)
        if char == "[":
            return self.items(i + 1, path)
        if char == '"':
            return scanstring(self.text, i + 1)[1]
        while i < len(self.text) and self.text[i] not in _DELIMITERS:
            i += 1
        return i

    def members(self, i: int, path: list[str | int]) -> int:
        i = self.skip(i)
        while i < len(self.text) and self.text[i] != "}":
            key_line = self.line_at(i)
            key, i = scanstring(self.text, i + 1)
            i = self.skip(i) + 1  # the colon
            i = self.skip(self.value(i, [*path, key], key_line))
            if i < len(self.text) and self.text[i] == ",":
                i = self.skip(i + 1)
        return i + 1

    def items(self, i: int, path: list[str | int]) -> int:
        i, index = self.skip(i), 0
        while i < len(self.text) and self.text[i] != "]":
            i = self.skip(self.value(i, [*path, index]))
            index += 1
            if i < len(self.text) and self.text[i] == ",":
                i = self.skip(i + 1)
        return i + 1


def pointer_lines(text: str) -> dict[str, int]:
    """Every JSON pointer of ``text`` (which must be valid JSON) -> the line its value starts on."""
    scanner = _Scanner(text.lstrip("\ufeff"))
    with suppress(ValueError, IndexError):  # not JSON after all: whatever was found so far
        scanner.value(0, [])
    return scanner.lines


def line_of(lines: dict[str, int], pointer: str) -> int | None:
    """The line of ``pointer``, or of its nearest ancestor present in the text (a missing member)."""
    while True:
        if pointer in lines:
            return lines[pointer]
        if not pointer:
            return None
        pointer = pointer.rsplit("/", 1)[0]


def with_lines(diagnostics: Iterable[Diagnostic], text: str) -> list[Diagnostic]:
    """``diagnostics`` with the line of each pointer in ``text`` (those that already have one kept)."""
    found = list(diagnostics)
    if not found or all(d.line is not None for d in found):
        return found
    lines = pointer_lines(text)
    return [d if d.line is not None else replace(d, line=line_of(lines, d.pointer)) for d in found]
