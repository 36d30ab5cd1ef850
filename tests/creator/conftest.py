"""The creator channel under test: the real app with the console's pages, on a real database (SQLite
and PostgreSQL), with the bundled account_compromised policy (it has creator texts in English and
Italian), an agent's key and a settable clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from casework.registry import policy_registry
from console.app import install
from models.db import session_scope
from policies.loader import bundled_calendars, bundled_policies_dir, load_policy_file
from policies.model import Policy
from tests.api.conftest import ApiWorld, FakeClock, create_keys
from tests.casework.builders import T0
from tests.creator.browser import chromium  # noqa: F401 - the fixture of the browser tests

CREATOR_ATTRIBUTES = {
    "creator": {
        "id": "cr_77",
        "handle": "@giulia",
        "platform": "instagram",
        "tier": "partner",
        "contact_email": "giulia@example.com",
        "language": "it",
    },
    "impact": {"monetized": True},
    "summary": "account taken over",
}
TOKEN_PATH = re.compile(r"/status/([A-Za-z0-9_-]{43})")


def bundled_policy(name: str = "account_compromised") -> Policy:
    return load_policy_file(bundled_policies_dir() / f"{name}.json", bundled_calendars())


def register_bundled(engine: Engine, name: str = "account_compromised") -> Policy:
    """Register a bundled policy as ``lifeline policies apply`` would (its own canonical JSON)."""
    policy = bundled_policy(name)
    with session_scope(engine) as session:
        policy_registry.register_policies(session, [policy], T0 - timedelta(days=1))
    return policy


def token_of(link: str) -> str:
    found = TOKEN_PATH.search(link)
    assert found is not None, link
    return found.group(1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def creator_api(engine: Engine, clock: FakeClock) -> Iterator[ApiWorld]:
    register_bundled(engine)
    app = install(create_app(engine, clock=clock))
    with TestClient(app) as client:
        yield ApiWorld(client, clock, engine, create_keys(engine, T0 - timedelta(days=1)))
