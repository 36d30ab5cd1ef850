"""The seam between the registry and the policy loader (policies.loader): parse a stored canonical
document back into a Policy, and find a calendar by name in the policies directory.

A stored document passed the schema and the lint when it was registered; it is checked again on
parsing (once per version per process) against the calendars in force, so a calendar removed since
is reported by name instead of failing later inside the engine.
"""

from __future__ import annotations

from pathlib import Path

from casework.errors import StoredPolicyUnreadable
from policies.diagnostics import PolicyError
from policies.loader import calendars_for, parse_policy_text
from policies.model import Calendar, Policy


def calendars(policies_dir: Path) -> dict[str, Calendar]:
    """The calendars of ``policies_dir/calendars`` (else the bundled ones), plus ``always``."""
    found, _problems = calendars_for(policies_dir)
    return found


def parse_stored(document: str, label: str, known_calendars: dict[str, Calendar]) -> Policy:
    try:
        return parse_policy_text(document, label, known_calendars)
    except PolicyError as exc:
        lines = "; ".join(d.as_line() for d in exc.diagnostics)
        raise StoredPolicyUnreadable(f"registered policy {label} no longer loads: {lines}") from exc


def calendar_named(name: str, known_calendars: dict[str, Calendar], policies_dir: Path) -> Calendar:
    try:
        return known_calendars[name]
    except KeyError:
        raise StoredPolicyUnreadable(f"calendar {name!r} is not in {policies_dir / 'calendars'}") from None
