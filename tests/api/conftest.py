"""The API under test: the real app on a real, migrated database (a fresh SQLite file, and
PostgreSQL when LIFELINE_TEST_POSTGRES_URL is set, through the shared ``engine`` fixture), called
through httpx (Starlette's TestClient), with the app's clock replaced by a settable one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from casework import api_keys
from models.db import session_scope
from models.kinds import Role
from policies.model import Policy
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import PARTNER_RULE, make_policy


@dataclass
class FakeClock:
    """The app's clock: it only moves when a test moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class ApiWorld:
    """A client on the app, a key per role (plus a revoked one), and shortcuts for common calls."""

    client: TestClient
    clock: FakeClock
    engine: Engine
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, url: str, who: str | None = "agent", **kwargs: Any) -> httpx.Response:
        return self.client.get(url, headers={**self.auth(who), **kwargs.pop("headers", {})}, **kwargs)

    def post(self, url: str, who: str | None = "agent", **kwargs: Any) -> httpx.Response:
        return self.client.post(url, headers={**self.auth(who), **kwargs.pop("headers", {})}, **kwargs)

    def open_case(self, attributes: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"incident_type": "account_compromised", "attributes": attributes or CREATOR, **extra}
        response = self.post("/v1/cases", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def act(self, case_id: str, action: str, expect: int = 200, **args: Any) -> dict[str, Any]:
        response = self.post(f"/v1/cases/{case_id}/actions", json={"action": action, **args})
        assert response.status_code == expect, response.text
        result: dict[str, Any] = response.json()
        return result


#: Agents besides ``agent-1`` (whose key is ``keys["agent"]``): the names tests assign cases to,
#: since ``assign`` takes only known agents; each one's key is ``keys[name]``.
TEAM = ("ana", "bo", "zoe")


def create_keys(engine: Engine, now: datetime) -> dict[str, str]:
    keys: dict[str, str] = {}
    with session_scope(engine) as session:
        for role in Role:
            keys[str(role)] = api_keys.create_key(session, f"{role}-1", role, now).secret
        for name in TEAM:
            keys[name] = api_keys.create_key(session, name, Role.AGENT, now).secret
        keys["revoked"] = api_keys.create_key(session, "gone", Role.ADMIN, now).secret
        api_keys.revoke_key(session, "gone", now)
    return keys


def sample_policy() -> Policy:
    """The engine tests' account_compromised-like policy, partner and top creators at P1."""
    return make_policy(rules=[PARTNER_RULE])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(engine: Engine, clock: FakeClock) -> Iterator[ApiWorld]:
    register(engine, sample_policy(), now=T0 - timedelta(days=1))
    app = create_app(engine, clock=clock)
    with TestClient(app) as client:
        yield ApiWorld(client, clock, engine, create_keys(engine, T0 - timedelta(days=1)))
