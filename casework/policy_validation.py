"""Validate a policy document given as JSON (POST /v1/policies/validate) the way
``lifeline policies validate`` does a file: the JSON Schema first, then the semantic lint, as
diagnostics with JSON pointers. Nothing is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policies.diagnostics import Diagnostic, Severity
from policies.schemas import SchemaName, validate

#: How the document is named in diagnostics (it came in a request body, not a file).
LABEL = "request body"


@dataclass(frozen=True)
class ValidationResult:
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)


def validate_document(document: Any) -> ValidationResult:
    diagnostics = validate(document, SchemaName.POLICY, LABEL)
    return ValidationResult(
        errors=[d for d in diagnostics if d.severity is Severity.ERROR],
        warnings=[d for d in diagnostics if d.severity is Severity.WARNING],
    )
