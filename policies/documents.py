"""Reading a JSON file safely: a size limit, UTF-8, and syntax errors with line and column.

Policy, calendar and channels files all come through here, so every one of them gets the same limit
and the same kind of message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from policies.diagnostics import Diagnostic

#: Files larger than this are refused before they are parsed (a policy is a few kilobytes).
MAX_FILE_BYTES = 1024 * 1024


def read_json_file(path: Path, label: str | None = None) -> tuple[Any, list[Diagnostic]]:
    """The parsed document and no diagnostic, or ``None`` and the one diagnostic saying why not.

    ``label`` is how the file is named in diagnostics (default: the path as given).
    """
    text, problems = read_text_file(path, label)
    if text is None:
        return None, problems
    return parse_json_text(text, label if label is not None else str(path))


def read_text_file(path: Path, label: str | None = None) -> tuple[str | None, list[Diagnostic]]:
    """The file's text (UTF-8, at most 1 MiB), or ``None`` and the one diagnostic saying why not."""
    name = label if label is not None else str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                Diagnostic(name, "", f"file is {size} bytes; the limit is {MAX_FILE_BYTES} (1 MiB)")
            ]
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        return None, [Diagnostic(name, "", f"cannot read file: {err.strerror or err}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Diagnostic(name, "", f"file is larger than the limit of {MAX_FILE_BYTES} bytes (1 MiB)")
        ]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as err:
        return None, [Diagnostic(name, "", f"file is not UTF-8 (byte {err.start})")]


def parse_json_text(text: str, name: str) -> tuple[Any, list[Diagnostic]]:
    """Parse ``text``; a syntax error becomes one diagnostic with its line and column."""
    try:
        return json.loads(text, parse_constant=_refuse_constant), []
    except json.JSONDecodeError as err:
        message = f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        return None, [Diagnostic(name, "", message)]
    except ValueError as err:
        return None, [Diagnostic(name, "", f"invalid JSON: {err}")]
    except RecursionError:
        return None, [Diagnostic(name, "", "invalid JSON: nested too deeply")]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
