"""Human messages for JSON Schema errors.

jsonschema's own messages print Python reprs and regular expressions; a policy author needs "what is
wrong, in the words of the policy language, and an example". Schema nodes carry a ``$comment`` tag
(``duration``, ``priority``, ``action``...) that picks the message here; anything untagged gets a
generic but still readable message. Each message is paired with the JSON pointer it is about: for an
unknown key, the key itself rather than the object around it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError

from policies.diagnostics import pointer_of
from policies.durations import DURATION_EXAMPLES

Located = tuple[str, str]

_PATTERN_MESSAGES: dict[str, str] = {
    "priority": "{v} is not a priority (P0 to P9, e.g. P1)",
    "identifier": "{v} is not a valid id (lower-case letters, digits, '-' and '_', e.g. account-compromised)",
    "snake-case": "{v} is not a valid incident type (lower-case letters, digits and '_', e.g. impersonation)",
    "field-path": "{v} is not a field path (dotted attribute names, e.g. creator.tier)",
    "channel": "{v} is not a channel name (lower-case letters, digits, '-', '_' and '.', e.g. support-leads)",
    "queue": "{v} is not a queue name (lower-case letters, digits, '-', '_' and '.', e.g. creator-support)",
    "time": "{v} is not a time of day (HH:MM from 00:00 to 23:59, e.g. 09:00; seconds allowed: 09:00:30)",
    "end-time": "{v} is not an end time (HH:MM from 00:00 to 24:00, e.g. 18:00; seconds allowed: 17:59:30)",
    "holiday-date": "{v} is not a date (YYYY-MM-DD, or MM-DD for every year, e.g. 12-25)",
    "ics-file": "{v} is not an iCalendar file name beside the calendar (e.g. it-holidays.ics)",
    "date": "{v} is not a date (YYYY-MM-DD, e.g. 2026-12-24)",
    "country": "{v} is not a country code (ISO 3166 alpha-2 in capitals, e.g. IT)",
}

#: An empty condition also misses 'field' and 'op'; the validator keeps only this message for it.
EMPTY_CONDITION = "an empty condition"

_MIN_PROPERTIES: dict[str, str] = {
    "action": 'an action needs one of notify, set_priority, assign_queue, e.g. {"notify": "support-leads"}',
    "target": 'a target map needs at least one priority, e.g. {"P1": "PT1H"}',
    "clock-names": "define at least one clock, e.g. first_response",
    "condition": EMPTY_CONDITION + ": use {field, op, value} or one of all, any, not",
    "weekdays": 'weekly hours need at least one day, e.g. "monday": [{"start": "09:00", "end": "18:00"}]',
}

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def json_type(value: Any) -> str:
    for python_type, name in _JSON_TYPES.items():
        if type(value) is python_type:
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def show(value: Any) -> str:
    """A short JSON-like rendering of ``value`` for messages."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return repr(value)
    return json_type(value)


def duration_message(value: Any) -> str:
    text = f"{show(value)} is not an ISO 8601 duration ({DURATION_EXAMPLES})"
    if isinstance(value, str) and ("Y" in value or "M" in value.split("T")[0]):
        text += "; years and months are not allowed because their length varies"
    return text


def describe(error: ValidationError) -> list[Located]:
    """The (pointer, message) pairs for one schema error."""
    handler = _HANDLERS.get(str(error.validator), _fallback)
    return list(handler(error, list(error.absolute_path)))


def _tag(error: ValidationError) -> str:
    schema = error.schema
    return str(schema.get("$comment", "")) if isinstance(schema, dict) else ""


def _required(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    for name in error.validator_value:
        if name not in instance:
            hint = f" (op {instance['op']!r} needs one)" if name == "value" and "op" in instance else ""
            yield pointer_of(path), f"missing required field {name!r}{hint}"


#: The keys of a creator text given per language (``creator_title``, ``creator_text``).
LANGUAGE_PATTERN = "^[a-z]{2}(-[A-Z]{2})?$"


def _additional(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    patterns = schema.get("patternProperties", {})
    instance = error.instance if isinstance(error.instance, dict) else {}
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        where = pointer_of([*path, key])
        if "^P[0-9]$" in patterns:
            yield where, f"{show(key)} is not a priority (P0 to P9, e.g. P1)"
        elif LANGUAGE_PATTERN in patterns:
            yield where, f"{show(key)} is not a language code (e.g. en, it, pt-BR)"
        elif patterns:
            rule = "lower-case letters, digits and '_', e.g. resolution"
            yield where, f"{show(key)} is not a valid clock name ({rule})"
        else:
            yield where, f"unknown field {show(key)} (allowed: {', '.join(known)})"


def _type(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    tag = _tag(error)
    if tag == "target":
        yield (
            pointer_of(path),
            (
                f'expected a duration (e.g. PT4H) or a map of priority to duration (e.g. {{"P1": "PT1H"}}), '
                f"got {json_type(error.instance)}"
            ),
        )
        return
    wanted = error.validator_value
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    expected = " or ".join(_article(n) for n in names)
    yield pointer_of(path), f"expected {expected}, got {json_type(error.instance)}"


def _article(type_name: str) -> str:
    return {"integer": "an integer", "array": "an array", "object": "an object", "null": "null"}.get(
        type_name, f"a {type_name}"
    )


def _enum(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    options = ", ".join(str(o) for o in error.validator_value)
    kind = "status" if "waiting_on_creator" in error.validator_value else "value"
    if "reply" in error.validator_value:
        kind = "status or action"
    elif "periodic_update" in error.validator_value:
        kind = "clock kind"
    elif "within" in error.validator_value:
        kind = "operator"
    yield pointer_of(path), f"{show(error.instance)} is not a valid {kind} (one of: {options})"


def _pattern(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    tag = _tag(error)
    if tag in ("duration", "target"):
        yield pointer_of(path), duration_message(error.instance)
    elif tag in _PATTERN_MESSAGES:
        yield pointer_of(path), _PATTERN_MESSAGES[tag].format(v=show(error.instance))
    else:
        yield pointer_of(path), f"{show(error.instance)} does not have the expected form"


def _min_properties(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    tag = _tag(error)
    default = "must not be empty" if error.validator_value == 1 else f"needs {error.validator_value} fields"
    yield pointer_of(path), _MIN_PROPERTIES.get(tag, default)


def _max_properties(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    keys = ", ".join(sorted(error.instance)) if isinstance(error.instance, dict) else ""
    if _tag(error) == "combinator-alone":
        yield pointer_of(path), f"a combinator (all, any, not) must be alone in its condition; found: {keys}"
    else:
        yield (
            pointer_of(path),
            f"an action has exactly one of notify, set_priority, assign_queue; found: {keys}",
        )


def _exclusive(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    if _tag(error) == "warn-at":
        yield (
            pointer_of(path),
            f"warn_at must be strictly between 0 and 1 (e.g. 0.75), got {show(error.instance)}",
        )
    else:
        yield from _fallback(error, path)


def _length(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    if error.validator == "minLength":
        yield pointer_of(path), "must not be empty"
    else:
        yield pointer_of(path), f"is longer than {error.validator_value} characters"


def _min_items(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    n = error.validator_value
    yield pointer_of(path), f"needs at least {n} item{'s' if n != 1 else ''}"


def _unique(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    yield pointer_of(path), "lists the same item twice"


def _dependent(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    yield pointer_of(path), "a holiday subdivision needs a country"


def _fallback(error: ValidationError, path: list[str | int]) -> Iterator[Located]:
    yield pointer_of(path), error.message


_Handler = Callable[[ValidationError, list[str | int]], Iterator[Located]]
_HANDLERS: dict[str, _Handler] = {
    "required": _required,
    "additionalProperties": _additional,
    "type": _type,
    "enum": _enum,
    "pattern": _pattern,
    "minProperties": _min_properties,
    "maxProperties": _max_properties,
    "exclusiveMinimum": _exclusive,
    "exclusiveMaximum": _exclusive,
    "minLength": _length,
    "maxLength": _length,
    "minItems": _min_items,
    "uniqueItems": _unique,
    "dependentRequired": _dependent,
}

__all__: Sequence[str] = ("EMPTY_CONDITION", "describe", "duration_message", "json_type", "show")
