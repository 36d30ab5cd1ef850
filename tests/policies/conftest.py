"""Fixtures and scenario builders for the policy-language tests.

``policy_doc()`` is a small valid policy as plain JSON; tests mutate a copy and write it with
``write_json`` so each test states only the change it is about.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INVALID_DIR = Path(__file__).resolve().parent / "invalid"
CHANNELS_EXAMPLE = REPO_ROOT / "channels.example.json"

_BASE: dict[str, Any] = {
    "id": "sample",
    "title": "Sample policy",
    "incident_type": "account_locked",
    "calendar": "always",
    "priority": {
        "default": "P2",
        "rules": [{"if": {"field": "creator.tier", "op": "in", "value": ["partner"]}, "then": "P1"}],
    },
    "clocks": {
        "first_response": {
            "target": {"P1": "PT15M", "P2": "PT1H"},
            "stops_on": ["acknowledged"],
            "warn_at": 0.75,
        },
        "resolution": {
            "target": "P1D",
            "stops_on": ["resolved"],
            "pauses_on": ["waiting_on_creator"],
            "not_after": {"field": "impact.next_sponsored_post_at", "margin": "PT2H"},
        },
    },
    "stages": [
        {"id": "frontline", "queue": "creator-support", "escalate_after": "PT1H"},
        {"id": "leads", "queue": "tns-leads", "on_enter": [{"notify": "tns-leads"}]},
    ],
}


def policy_doc() -> dict[str, Any]:
    """A fresh copy of a small valid, lint-clean policy (the same base as tests/policies/invalid/)."""
    return copy.deepcopy(_BASE)


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """``write_policy(doc, name="policy.json")`` writes a policy under a fresh folder and returns its path."""

    def write(doc: Any, name: str = "policy.json") -> Path:
        return write_json(tmp_path / "policies" / name, doc)

    return write
