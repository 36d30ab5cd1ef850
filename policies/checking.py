"""Checking a set of files and folders at once, as ``lifeline policies validate|lint`` does.

A folder means every ``*.json`` policy file in it, with the calendars of its ``calendars/`` folder
(themselves checked too) when present, else the bundled calendars. A single file uses the calendars
next to it the same way. Policy ids must be unique across everything checked together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from policies.channels import check_channels_file
from policies.diagnostics import Diagnostic, Severity
from policies.loader import calendars_for, check_policy_file, policy_files
from policies.model import Calendar


def check_paths(paths: Sequence[Path], channels_file: Path | None = None) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of the policies under ``paths``, in file order."""
    found: list[Diagnostic] = []
    channels: Collection[str] | None = None
    if channels_file is not None:
        channel_result = check_channels_file(channels_file)
        found += channel_result.diagnostics
        channels = set(channel_result.value) if channel_result.value is not None else None
    calendar_sets: dict[Path, dict[str, Calendar]] = {}
    ids: dict[str, str] = {}
    for path in paths:
        files = _files(path, found)
        for file in files:
            folder = file.parent.resolve()
            if folder not in calendar_sets:
                calendar_sets[folder], problems = calendars_for(folder)
                found += problems
            result = check_policy_file(file, calendar_sets[folder], channels, label=str(file))
            found += result.diagnostics
            if result.value is not None:
                first = ids.setdefault(result.value.id, str(file))
                if first != str(file):
                    found.append(
                        Diagnostic(str(file), "/id", f"policy id {result.value.id!r} is also used by {first}")
                    )
    return found


def _files(path: Path, found: list[Diagnostic]) -> list[Path]:
    if path.is_dir():
        files = policy_files(path)
        if not files:
            found.append(Diagnostic(str(path), "", "no policy files (*.json) in this folder"))
        return files
    if path.is_file():
        return [path]
    found.append(Diagnostic(str(path), "", "no such file or folder"))
    return []


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
