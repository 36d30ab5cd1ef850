"""The console under test: the real app with the console installed, on a real migrated database
(SQLite, and PostgreSQL when configured, through the shared ``engine`` fixture), driven through
httpx (Starlette's TestClient) as a browser without JavaScript would: forms posted, redirects seen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from casework.cases.lifecycle import apply_action, open_case
from console.app import install
from models.db import session_scope
from tests.api.conftest import FakeClock, create_keys, sample_policy
from tests.casework.builders import CREATOR, T0, register

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


@dataclass
class ConsoleWorld:
    client: TestClient
    clock: FakeClock
    engine: Engine
    keys: dict[str, str]

    def sign_in(self, who: str, client: TestClient | None = None) -> httpx.Response:
        client = client or self.client
        form = client.get("/console/login")
        response = client.post(
            "/console/login",
            data={"key": self.keys[who], "csrf": csrf_of(form.text), "next": ""},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return response

    def open_case(self, attributes: dict[str, Any] | None = None, minutes_ago: float = 0) -> str:
        with session_scope(self.engine) as session:
            change = open_case(
                session,
                incident_type="account_compromised",
                attributes=attributes or CREATOR,
                actor="agent:someone",
                now=self.clock.now,
                opened_at=self.clock.now - timedelta(minutes=minutes_ago),
            )
            return change.case.id

    def act(self, case_id: str, action: str, actor: str = "agent:other", **args: Any) -> None:
        with session_scope(self.engine) as session:
            apply_action(session, case_id, action, args, actor, self.clock.now)

    def page(self, url: str) -> httpx.Response:
        return self.client.get(url, follow_redirects=False)

    def post_action(self, case_id: str, action: str, version: int, **fields: str) -> httpx.Response:
        html = self.client.get(f"/console/cases/{case_id}").text
        data = {"csrf": csrf_of(html), "action": action, "version": str(version), **fields}
        return self.client.post(f"/console/cases/{case_id}/actions", data=data, follow_redirects=False)


@pytest.fixture
def console(engine: Engine) -> Iterator[ConsoleWorld]:
    register(engine, sample_policy(), now=T0 - timedelta(days=1))
    clock = FakeClock()
    app = install(create_app(engine, clock=clock))
    with TestClient(app) as client:
        yield ConsoleWorld(client, clock, engine, create_keys(engine, T0 - timedelta(days=1)))
