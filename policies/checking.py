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
from policies.loader import CheckedPaths, check_policy_paths


def check_and_load(paths: Sequence[Path], channels_file: Path | None = None) -> CheckedPaths:
    """The channels file (when given) and every policy under ``paths``, each file read once: what
    ``validate`` and ``lint`` print and what ``apply`` registers."""
    found: list[Diagnostic] = []
    channels: Collection[str] | None = None
    if channels_file is not None:
        channel_result = check_channels_file(channels_file)
        found += channel_result.diagnostics
        channels = set(channel_result.value) if channel_result.value is not None else None
    checked = check_policy_paths(paths, channels)
    return CheckedPaths(found + checked.diagnostics, checked.policies)


def check_paths(paths: Sequence[Path], channels_file: Path | None = None) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of the policies under ``paths``, in file order."""
    return check_and_load(paths, channels_file).diagnostics


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
