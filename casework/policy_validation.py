"""Validate a policy document given as JSON (POST /v1/policies/validate): the policy loader's
schema check and lint, as diagnostics with JSON pointers. Nothing is registered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Diagnostic:
    pointer: str
    message: str


@dataclass(frozen=True)
class ValidationResult:
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)


class ValidatorUnavailable(RuntimeError):
    """The policy loader is not installed in this build."""


def validate_document(document: Any) -> ValidationResult:
    raise ValidatorUnavailable("policy validation needs policies.loader, which this build lacks")
