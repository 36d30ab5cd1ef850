"""Semantic lint of a policy that passed the schema: what a schema cannot say.

Errors (the policy is refused): duplicate stage ids, an unknown calendar, an unknown channel (when a
channels file is given), a target map missing a priority the policy can produce, a duration of zero.
Warnings (advice; ``policies lint --strict`` fails on them): unreachable or duplicate priority rules,
rules without effect, stages reachable only by hand, timers and repeats that can never fire, and
statuses that make a clock stop or pause pointlessly.

Every function takes the schema-valid document as plain JSON and yields diagnostics with pointers.
``lintable_parts`` cuts a document that failed the schema down to the parts that passed it, so the
loader reports schema and lint errors in one pass (each check runs when the parts it reads are valid).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from policies.diagnostics import Diagnostic, Severity, pointer
from policies.durations import DurationError, parse_duration
from policies.schema_messages import duration_message

_PRIORITY = re.compile(r"P[0-9]")
#: Statuses and actions that end a case: every clock stops there.
_TERMINAL = ("resolved", "closed", "merged", "resolve", "close", "merge_into")


class _Linter:
    def __init__(self, doc: Mapping[str, Any], file: str) -> None:
        self.doc = doc
        self.file = file
        self.found: list[Diagnostic] = []

    def error(self, where: str, message: str) -> None:
        self.found.append(Diagnostic(self.file, where, message))

    def warn(self, where: str, message: str) -> None:
        self.found.append(Diagnostic(self.file, where, message, Severity.WARNING))


#: The top-level parts each check reads; a check runs only when all of them passed the schema.
_NEEDS: dict[str, tuple[str, ...]] = {
    "calendar": ("calendar",),
    "formats": ("priority", "clocks", "stages"),
    "priority_targets": ("priority", "clocks", "stages"),
    "channels": ("clocks", "stages"),
    "rules": ("priority",),
    "stages": ("stages",),
    "clock_statuses": ("clocks",),
    "clock_kinds": ("clocks",),
}


def lintable_parts(doc: Any, schema_errors: Collection[Diagnostic]) -> tuple[dict[str, Any], frozenset[str]]:
    """The parts of ``doc`` that passed the schema: the document without the top-level parts (and
    the clocks) that have a schema error, and the names of the top-level parts that are usable."""
    if not isinstance(doc, Mapping):
        return {}, frozenset()
    broken = {d.pointer for d in schema_errors}

    def clean(where: str) -> bool:
        return not any(p == where or p.startswith(where + "/") for p in broken)

    kept = {key: value for key, value in doc.items() if clean(pointer(key))}
    clocks = doc.get("clocks")
    if isinstance(clocks, Mapping) and pointer("clocks") not in broken:
        kept["clocks"] = {n: c for n, c in clocks.items() if clean(pointer("clocks", n))}
    return kept, frozenset(kept)


def lint_policy(
    doc: Mapping[str, Any],
    file: str,
    calendars: Collection[str],
    channels: Collection[str] | None = None,
    usable: Collection[str] | None = None,
) -> list[Diagnostic]:
    """Every semantic problem of schema-valid ``doc``; ``channels=None`` skips the channel check.
    ``usable`` (from ``lintable_parts``) limits the checks to those whose parts passed the schema."""
    lint = _Linter(doc, file)
    checks: dict[str, Callable[[], None]] = {
        "calendar": lambda: _check_calendar(lint, calendars),
        "formats": lambda: _check_formats(lint),
        "priority_targets": lambda: _check_priority_targets(lint),
        "channels": lambda: _check_channels(lint, channels),
        "rules": lambda: _check_rules(lint),
        "stages": lambda: _check_stages(lint),
        "clock_statuses": lambda: _check_clock_statuses(lint),
        "clock_kinds": lambda: _check_clock_kinds(lint),
    }
    for name, check in checks.items():
        if usable is None or all(part in usable for part in _NEEDS[name]):
            check()
    return lint.found


def actions(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, str]]]:
    """Every action of the policy with its pointer (clocks' on_warn and on_breach, stages' on_enter
    and on_breach)."""
    for name, clock in doc["clocks"].items():
        for key in ("on_warn", "on_breach"):
            for i, action in enumerate(clock.get(key, [])):
                yield pointer("clocks", name, key, i), action
    for s, stage in enumerate(doc["stages"]):
        for key in ("on_enter", "on_breach"):
            for i, action in enumerate(stage.get(key, [])):
                yield pointer("stages", s, key, i), action


def produced_priorities(doc: Mapping[str, Any]) -> dict[str, str]:
    """Each priority the policy itself can give a case, with the pointer of its first source."""
    sources: dict[str, str] = {doc["priority"]["default"]: pointer("priority", "default")}
    for i, rule in enumerate(doc["priority"].get("rules", [])):
        sources.setdefault(rule["then"], pointer("priority", "rules", i, "then"))
    for where, action in actions(doc):
        if "set_priority" in action:
            sources.setdefault(action["set_priority"], where + "/set_priority")
    return sources


def _targets(doc: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, clock in doc["clocks"].items():
        yield pointer("clocks", name, "target"), clock["target"]
    for s, stage in enumerate(doc["stages"]):
        if "escalate_after" in stage:
            yield pointer("stages", s, "escalate_after"), stage["escalate_after"]


def _durations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every duration that must be above zero (not_after margins may be zero)."""
    for where, target in _targets(doc):
        if isinstance(target, str):
            yield where, target
        else:
            yield from ((f"{where}/{p}", d) for p, d in target.items())
    for s, stage in enumerate(doc["stages"]):
        if "repeat_notify_every" in stage:
            yield pointer("stages", s, "repeat_notify_every"), stage["repeat_notify_every"]
    for i, rule in enumerate(doc["priority"].get("rules", [])):
        yield from _within_values(rule["if"], pointer("priority", "rules", i, "if"))


def _within_values(condition: Mapping[str, Any], where: str) -> Iterator[tuple[str, str]]:
    for key in ("all", "any"):
        for i, item in enumerate(condition.get(key, [])):
            yield from _within_values(item, f"{where}/{key}/{i}")
    if "not" in condition:
        yield from _within_values(condition["not"], f"{where}/not")
    if condition.get("op") == "within":
        yield f"{where}/value", condition["value"]


def _check_calendar(lint: _Linter, calendars: Collection[str]) -> None:
    name = lint.doc["calendar"]
    if name not in calendars:
        known = ", ".join(sorted(calendars))
        lint.error("/calendar", f"unknown calendar {name!r} (known: {known})")


def _check_formats(lint: _Linter) -> None:
    for where, text in _durations(lint.doc):
        try:
            if parse_duration(text).total_seconds() <= 0:
                lint.error(where, f"{text!r} is zero: a duration must be above zero")
        except DurationError as err:
            lint.error(where, duration_message(text) if "ISO" in str(err) else str(err))
    for name, clock in lint.doc["clocks"].items():
        margin = clock.get("not_after", {}).get("margin")
        if margin is not None:
            try:
                parse_duration(margin)
            except DurationError as err:
                lint.error(pointer("clocks", name, "not_after", "margin"), str(err))
    for priority, where in produced_priorities(lint.doc).items():
        if _PRIORITY.fullmatch(priority) is None:
            lint.error(where, f"{priority!r} is not a priority (P0 to P9, e.g. P1)")


def _check_priority_targets(lint: _Linter) -> None:
    sources = produced_priorities(lint.doc)
    for where, target in _targets(lint.doc):
        if isinstance(target, str):
            continue
        for priority in sorted(set(sources) - set(target)):
            lint.error(where, f"no duration for {priority}, which {sources[priority]} can set")


def _check_channels(lint: _Linter, channels: Collection[str] | None) -> None:
    if channels is None:
        return
    for where, action in actions(lint.doc):
        name = action.get("notify")
        if name is not None and name not in channels:
            known = ", ".join(sorted(channels)) or "none"
            lint.error(f"{where}/notify", f"unknown channel {name!r} (the channels file defines: {known})")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _check_rules(lint: _Linter) -> None:
    rules = lint.doc["priority"].get("rules", [])
    default = lint.doc["priority"]["default"]
    first_with: dict[str, int] = {}
    for i, rule in enumerate(rules):
        where = pointer("priority", "rules", i)
        earlier = first_with.setdefault(_canonical(rule["if"]), i)
        if earlier != i:
            same = rules[earlier]["then"] == rule["then"]
            what = "duplicates" if same else "can never win: it has the same condition as"
            lint.warn(where, f"this rule {what} /priority/rules/{earlier}, which comes first")
        elif all(later["then"] == default for later in rules[i:]):
            lint.warn(where, f"this rule has no effect: it gives the default priority {default}")


def _check_stages(lint: _Linter) -> None:
    stages = lint.doc["stages"]
    seen: dict[str, int] = {}
    for s, stage in enumerate(stages):
        first = seen.setdefault(stage["id"], s)
        if first != s:
            lint.error(
                pointer("stages", s, "id"), f"stage id {stage['id']!r} is already used by /stages/{first}"
            )
        if s > 0 and "escalate_after" not in stages[s - 1]:
            lint.warn(
                pointer("stages", s),
                f"stage {stage['id']!r} is reachable only by manual escalation: "
                f"the stage before it has no escalate_after",
            )
        last = s == len(stages) - 1
        if last and "escalate_after" in stage:
            lint.warn(
                pointer("stages", s, "escalate_after"),
                "the last stage has no next stage to escalate to; use repeat_notify_every to keep notifying",
            )
        if "repeat_notify_every" in stage:
            _check_repeat(lint, s, stage, last)


def _check_repeat(lint: _Linter, s: int, stage: Mapping[str, Any], last: bool) -> None:
    where = pointer("stages", s, "repeat_notify_every")
    if not last:
        lint.warn(where, "only the last stage repeats its notifications; this value is never used")
    elif not any("notify" in action for action in stage.get("on_enter", [])):
        lint.warn(where, "nothing to repeat: this stage's on_enter has no notify action")


def _check_clock_statuses(lint: _Linter) -> None:
    for name, clock in lint.doc["clocks"].items():
        stops, pauses = clock.get("stops_on", []), clock.get("pauses_on", [])
        for i, status in enumerate(pauses):
            where = pointer("clocks", name, "pauses_on", i)
            if status in stops:
                lint.warn(where, f"{status!r} is in both stops_on and pauses_on; the clock stops")
            elif status in _TERMINAL:
                lint.warn(where, f"{status!r} always stops every clock; pausing on it has no effect")
        for i, status in enumerate(stops):
            if status == "open":
                lint.warn(
                    pointer("clocks", name, "stops_on", i),
                    "a case opens in status 'open': this clock would stop as soon as it starts",
                )


_CYCLE_KINDS = ("next_reply", "periodic_update")


def _check_clock_kinds(lint: _Linter) -> None:
    """on_warn needs warn_at; a periodic clock never waits for a start; a not_after cap on a
    cycle clock would cap every cycle at the same instant."""
    for name, clock in lint.doc["clocks"].items():
        kind = clock.get("kind", "elapsed")
        if "on_warn" in clock and "warn_at" not in clock:
            lint.error(
                pointer("clocks", name, "on_warn"), "on_warn runs at warn_at: give this clock a warn_at"
            )
        if kind == "periodic_update" and "starts_on" in clock:
            lint.warn(
                pointer("clocks", name, "starts_on"),
                "a periodic_update clock runs from opening and restarts on each update; "
                "starts_on is never used",
            )
        if kind in _CYCLE_KINDS and "not_after" in clock:
            lint.error(
                pointer("clocks", name, "not_after"),
                f"not_after caps one deadline; a {kind} clock has one per cycle (use an elapsed clock)",
            )
        for i, trigger in enumerate(clock.get("starts_on", [])):
            if trigger in _TERMINAL:
                lint.warn(
                    pointer("clocks", name, "starts_on", i),
                    f"{trigger!r} ends the case: a clock never starts there",
                )
        both = set(clock.get("starts_on", [])) & set(clock.get("stops_on", []))
        for i, trigger in enumerate(clock.get("starts_on", [])):
            if trigger in both:
                lint.error(
                    pointer("clocks", name, "starts_on", i),
                    f"{trigger!r} would both start and stop this clock",
                )
