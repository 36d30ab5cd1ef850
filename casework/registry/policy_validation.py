"""Validate a policy document given as JSON (POST /v1/policies/validate) the way
``lifeline policies validate`` checks a file: the JSON Schema first, then the semantic lint
(calendars from LIFELINE_POLICIES_DIR), as diagnostics with JSON pointers. Nothing is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from casework.settings import get_settings
from policies.diagnostics import Diagnostic
from policies.loader import calendars_for, check_policy_document
from policies.model import Policy

#: How the document is named in diagnostics (it came in a request body, not a file).
LABEL = "request body"


@dataclass(frozen=True)
class ValidationResult:
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)


def validate_document(document: Any) -> ValidationResult:
    return check_draft(document)[1]


def check_draft(document: Any) -> tuple[Policy | None, ValidationResult]:
    """The draft's Policy (None when it has errors) and its diagnostics, for simulating a draft."""
    calendars, _ = calendars_for(get_settings().policies_dir)
    result = check_policy_document(document, LABEL, calendars)
    return result.value, ValidationResult(errors=list(result.errors), warnings=list(result.warnings))
