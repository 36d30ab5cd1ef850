"""The queues file (LIFELINE_QUEUES_FILE): its names in order, every problem with its pointer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policies.diagnostics import PolicyError
from policies.queues import check_queues_file, load_queues


def _file(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "queues.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_names_in_file_order_without_repeats(tmp_path: Path) -> None:
    assert load_queues(_file(tmp_path, {"queues": ["vip-desk", "night-shift", "vip-desk"]})) == (
        "vip-desk",
        "night-shift",
    )


@pytest.mark.parametrize(
    ("doc", "problems"),
    [
        ([], [("", "expected an object with a 'queues' field, got an array")]),
        ({}, [("", "missing required field 'queues'")]),
        ({"queues": "vip"}, [("/queues", "expected a list, got a string")]),
        ({"queues": [], "extra": 1}, [("/extra", "unknown field 'extra' (allowed: queues)")]),
        (
            {"queues": ["ok", "night shift", "", 7, "x" * 101]},
            [(f"/queues/{i}", "is not a queue name") for i in (1, 2, 3, 4)],
        ),
        ("{", [("", "")]),
    ],
)
def test_every_problem_has_its_pointer(tmp_path: Path, doc: Any, problems: list[tuple[str, str]]) -> None:
    result = check_queues_file(_file(tmp_path, doc))

    assert result.value is None
    assert [(d.pointer, problems[i][1] in d.message) for i, d in enumerate(result.diagnostics)] == [
        (pointer, True) for pointer, _ in problems
    ]
    with pytest.raises(PolicyError):
        load_queues(_file(tmp_path, doc))
