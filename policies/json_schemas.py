"""The policy and calendar JSON Schemas and a validator that reports every error with its pointer.

The validator's registry knows only the two bundled schemas: a ``$ref`` to anything else (a URL, a
file) is never fetched; it is reported as a diagnostic instead. Format assertions are on
(``date``), durations and priorities are checked by the schema's patterns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from policies.diagnostics import Diagnostic
from policies.schema_messages import EMPTY_CONDITION, describe

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"


class SchemaName(StrEnum):
    POLICY = "policy.schema.json"
    CALENDAR = "calendar.schema.json"


def _never_retrieve(uri: str) -> Resource[Any]:
    """Registry hook for unknown URIs: refuse, so no schema is ever fetched from the network or disk."""
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs alias


@cache
def schema(name: SchemaName) -> Mapping[str, Any]:
    """The parsed bundled schema ``name`` (cached; treat as read-only)."""
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / name.value).read_text(encoding="utf-8"))
    return loaded


@cache
def registry() -> Registry[Any]:
    """The bundled schemas by their ``$id``; nothing else is resolvable."""
    resources = [(schema(n)["$id"], Resource.from_contents(schema(n))) for n in SchemaName]
    empty: Registry[Any] = Registry(retrieve=_never_retrieve)  # type: ignore[call-arg]
    return empty.with_resources(resources)


@cache
def validator(name: SchemaName) -> Draft202012Validator:
    return Draft202012Validator(
        schema(name), registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validate(document: Any, name: SchemaName, file: str) -> list[Diagnostic]:
    """Every schema error of ``document``, as diagnostics sorted by pointer (duplicates removed)."""
    return validate_with(validator(name), document, file)


def validate_with(checker: Draft202012Validator, document: Any, file: str) -> list[Diagnostic]:
    """As :func:`validate`, with any validator (tests use it to prove remote refs stay unresolved)."""
    try:
        errors: list[ValidationError] = list(checker.iter_errors(document))
    except Unresolvable as err:
        ref = getattr(err, "ref", str(err))
        return [Diagnostic(file, "", f"$ref {ref!r} cannot be resolved: remote references are never fetched")]
    except RecursionError:
        return [Diagnostic(file, "", "document is nested too deeply")]
    found: dict[tuple[str, str], Diagnostic] = {}
    for error in errors:
        for where, message in describe(error):
            found.setdefault((where, message), Diagnostic(file, where, message))
    empty = {d.pointer for d in found.values() if d.message.startswith(EMPTY_CONDITION)}
    kept = [d for d in found.values() if d.pointer not in empty or d.message.startswith(EMPTY_CONDITION)]
    return sorted(kept, key=lambda d: (d.pointer, d.message))
