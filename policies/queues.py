"""The queues file (``LIFELINE_QUEUES_FILE``): queues a deployment works in besides those its
policies name (a VIP desk, a night shift), so ``assign`` may move a case there.

Format::

    {"queues": ["vip-desk", "night-shift"]}

A queue name is 1 to 100 characters without spaces (a case's ``queue`` column holds 100).
:func:`check_queues_file` returns every problem with its JSON pointer; :func:`load_queues` raises
PolicyError with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policies.diagnostics import Diagnostic, LoadResult, PolicyError, pointer
from policies.documents import read_json_file
from policies.schema_messages import json_type

MAX_QUEUE_LENGTH = 100


def check_queues_file(path: Path) -> LoadResult[tuple[str, ...]]:
    """Read and check a queues file; its queue names (in file order) when it has no error."""
    name = str(path)
    doc, problems = read_json_file(path, name)
    if problems:
        return LoadResult(name, None, tuple(problems))
    found = _check(doc, name)
    if found:
        return LoadResult(name, None, tuple(found))
    return LoadResult(name, tuple(dict.fromkeys(doc["queues"])), ())


def load_queues(path: Path) -> tuple[str, ...]:
    """The queue names of ``path``; PolicyError listing every problem when the file is bad."""
    result = check_queues_file(path)
    if result.value is None:
        raise PolicyError(result.diagnostics)
    return result.value


def _check(doc: Any, file: str) -> list[Diagnostic]:
    if not isinstance(doc, dict):
        return [Diagnostic(file, "", f"expected an object with a 'queues' field, got {json_type(doc)}")]
    found = [
        Diagnostic(file, pointer(k), f"unknown field {k!r} (allowed: queues)") for k in doc if k != "queues"
    ]
    queues = doc.get("queues")
    if not isinstance(queues, list):
        what = (
            "missing required field 'queues'"
            if queues is None
            else f"expected a list, got {json_type(queues)}"
        )
        return [*found, Diagnostic(file, "/queues" if queues is not None else "", what)]
    for index, queue in enumerate(queues):
        if not _is_queue_name(queue):
            found.append(
                Diagnostic(
                    file,
                    pointer("queues", index),
                    f"{queue!r} is not a queue name (1 to {MAX_QUEUE_LENGTH} characters, no spaces)",
                )
            )
    return found


def _is_queue_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_QUEUE_LENGTH
        and not any(ch.isspace() for ch in value)
    )
