"""The bundled policies, calendars and sample channels file are valid, lint clean and say what the
design asks: one policy per incident type, partner and top creators raised, sponsored posts capping
resolution, the it-business calendar with Italian holidays."""

from __future__ import annotations

import hashlib
import json
from datetime import date, time
from pathlib import Path

import pytest

from policies.calendars import bundled_calendars_dir, check_calendar_dir, load_calendars
from policies.channels import load_channels
from policies.checking import check_paths
from policies.lint import actions
from policies.loader import bundled_policies_dir, check_policy_file, load_policy_dir, policy_files
from policies.model import ALWAYS, Compare, Op, Policy
from tests.policies.conftest import CHANNELS_EXAMPLE

INCIDENT_TYPES = {
    "account_compromised",
    "account_locked",
    "content_blocked",
    "monetization_suspended",
    "impersonation",
    "brand_deal_at_risk",
}
BUNDLED = policy_files(bundled_policies_dir())


@pytest.fixture(scope="module")
def bundled() -> dict[str, Policy]:
    return load_policy_dir(channels=set(load_channels(CHANNELS_EXAMPLE)))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_each_bundled_policy_is_valid_and_lint_clean_with_the_sample_channels(path: Path) -> None:
    result = check_policy_file(path, load_calendars(), set(load_channels(CHANNELS_EXAMPLE)))
    assert result.diagnostics == ()
    assert result.value is not None


def test_bundled_folder_and_calendars_have_no_diagnostic_at_all() -> None:
    assert check_paths([bundled_policies_dir()], CHANNELS_EXAMPLE) == []
    assert all(r.diagnostics == () for r in check_calendar_dir(bundled_calendars_dir()))


def test_one_bundled_policy_per_incident_type_named_after_it(bundled: dict[str, Policy]) -> None:
    assert {p.incident_type for p in bundled.values()} == INCIDENT_TYPES
    assert {path.stem for path in BUNDLED} == INCIDENT_TYPES


#: The v2 clocks bundled where they fit (issue 15): replies owed while an account is compromised,
#: updates owed while a brand deal is at risk.
EXTRA_CLOCKS = {
    "account-compromised": ("next_reply", "next_reply"),
    "brand-deal-at-risk": ("updates", "periodic_update"),
}


def test_every_bundled_policy_has_both_clocks_three_stages_and_three_priorities(
    bundled: dict[str, Policy],
) -> None:
    for policy in bundled.values():
        names = [c.name for c in policy.clocks]
        extra = EXTRA_CLOCKS.get(policy.id)
        assert [n for n in names if extra is None or n != extra[0]] == ["first_response", "resolution"], (
            policy.id
        )
        if extra is not None:
            assert str(next(c for c in policy.clocks if c.name == extra[0]).kind) == extra[1]
        assert len(policy.stages) >= 3, policy.id
        assert all(policy.supports_priority(p) for p in ("P1", "P2", "P3")), policy.id


def test_partner_and_top_creators_get_a_higher_priority_than_the_default(bundled: dict[str, Policy]) -> None:
    for policy in bundled.values():
        tier_rules = [
            r
            for r in policy.priority.rules
            if isinstance(r.condition, Compare)
            and r.condition.field == "creator.tier"
            and r.condition.op is Op.IN
            and {"partner", "top"} <= set(r.condition.value)
        ]
        assert tier_rules, policy.id
        assert tier_rules[0].then < policy.priority.default, policy.id  # "P1" < "P2": more urgent


def test_sponsored_posts_cap_resolution_where_a_post_can_be_missed(bundled: dict[str, Policy]) -> None:
    capped = {
        p.id for p in bundled.values() for c in p.clocks if c.name == "resolution" and c.not_after is not None
    }
    assert capped >= {"account-compromised", "account-locked", "content-blocked", "brand-deal-at-risk"}
    for policy_id in capped:
        (clock,) = [c for c in bundled[policy_id].clocks if c.name == "resolution"]
        assert clock.not_after is not None and clock.not_after.field == "impact.next_sponsored_post_at"


def test_account_compromised_is_the_design_example(bundled: dict[str, Policy]) -> None:
    policy = bundled["account-compromised"]
    assert [s.id for s in policy.stages] == [
        "frontline",
        "account-security",
        "trust-safety-lead",
        "partner-management",
    ]
    assert policy.stages[-1].repeat_notify_every is not None
    assert policy.stages[-1].repeat_notify_every.total_seconds() == 7200
    first = policy.clocks[0]
    assert first.target.for_priority("P1").total_seconds() == 15 * 60
    assert first.stops_on == frozenset({"acknowledge", "reply", "request_info"}) and first.warn_at == 0.75


def test_canonical_json_and_sha256_do_not_depend_on_formatting(
    bundled: dict[str, Policy], tmp_path: Path
) -> None:
    source = bundled_policies_dir() / "account_compromised.json"
    reformatted = tmp_path / "account_compromised.json"
    reformatted.write_text(json.dumps(json.loads(source.read_text()), indent=8), encoding="utf-8")
    again = check_policy_file(reformatted).value
    policy = bundled["account-compromised"]
    assert again is not None and again.sha256 == policy.sha256
    assert policy.sha256 == hashlib.sha256(policy.canonical_json.encode()).hexdigest()
    assert json.loads(policy.canonical_json) == json.loads(source.read_text())
    assert policy.canonical_json.startswith('{"calendar":"always","clocks":{"first_response":{"description":')


def test_monetization_suspended_counts_italian_office_hours(bundled: dict[str, Policy]) -> None:
    assert bundled["monetization-suspended"].calendar == "it-business"
    calendar = load_calendars()["it-business"]
    assert calendar.timezone == "Europe/Rome" and calendar.holiday_country == "IT"
    assert len(calendar.weekly) == 7
    assert calendar.weekly[0][0].start == time(9) and calendar.weekly[0][0].end == time(18)
    assert calendar.weekly[5] == () and calendar.weekly[6] == ()  # Saturday, Sunday closed
    assert {date(2026, 12, 24), date(2026, 12, 31)} <= calendar.extra_holidays


def test_always_is_built_in_and_not_shipped_as_a_file() -> None:
    assert load_calendars()["always"] is ALWAYS
    assert not (bundled_calendars_dir() / "always.json").exists()


def test_the_sample_channels_file_has_exactly_the_channels_the_bundled_policies_use() -> None:
    used = set()
    for path in BUNDLED:
        doc = json.loads(path.read_text())
        used |= {a["notify"] for _, a in actions(doc) if "notify" in a}
    channels = load_channels(CHANNELS_EXAMPLE)
    assert set(channels) == used
    assert all(c.url == f"http://127.0.0.1:9999/hooks/{name}" for name, c in channels.items())


def test_every_bundled_first_response_warns_the_team_lead_before_it_breaches(
    bundled: dict[str, Policy],
) -> None:
    for policy in bundled.values():
        first = policy.clocks[0]
        # The desk's lead hears at warn_at on the channel that hears of the breach.
        assert first.warn_at is not None and first.on_warn == first.on_breach, policy.id
