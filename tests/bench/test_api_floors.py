"""bench.api_floors: a floor captured from one real request sends that request's statements again,
raw: a read reads the same row and writes nothing; an open writes a new case each time, with its
own id, event and creator link, as a real open does. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, text

from api.app import create_app
from bench.api_floors import Floor, capture, decoded
from tests.api.conftest import FakeClock, create_keys, sample_policy
from tests.casework.builders import CREATOR, T0, register


def _app(engine: Engine) -> tuple[FastAPI, dict[str, str]]:
    register(engine, sample_policy(), now=T0 - timedelta(days=1))
    return create_app(engine, clock=FakeClock()), create_keys(engine, T0 - timedelta(days=1))


def _capture(app: FastAPI, engine: Engine, key: str, method: str, path: str, body: Any = None) -> Floor:
    request = {"method": method, "path": path, "headers": {"Authorization": f"Bearer {key}"}, "json": body}
    return asyncio.run(capture(app, engine, request))


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _open(app: FastAPI, engine: Engine, key: str) -> tuple[Floor, str]:
    """The floor of a second open (the first one makes the instance's link secret, once) and the
    case that open made."""
    body = {"incident_type": "account_compromised", "attributes": CREATOR}
    _capture(app, engine, key, "POST", "/v1/cases", body)
    floor = _capture(app, engine, key, "POST", "/v1/cases", body)
    with engine.connect() as conn:
        (case_id,) = conn.execute(text("SELECT id FROM cases ORDER BY opened_at DESC, id DESC LIMIT 1")).one()
    return floor, case_id


def test_an_opens_floor_writes_a_new_case_with_its_event_and_link_each_time(engine: Engine) -> None:
    app, keys = _app(engine)
    floor, opened = _open(app, engine, keys["agent"])
    assert floor.fresh
    for _ in range(3):
        floor.run(engine)
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text("SELECT id FROM cases"))}
        linked = {row[0] for row in conn.execute(text("SELECT case_id FROM creator_links"))}
        opened_events = {row[0] for row in conn.execute(text("SELECT case_id FROM case_events"))}
        tokens = {row[0] for row in conn.execute(text("SELECT token_hash FROM creator_links"))}
    assert len(ids) == 5 and opened in ids
    assert linked == ids == opened_events
    assert len(tokens) == 5  # each replay's random values are its own


def test_a_reads_floor_reads_the_same_row_and_writes_nothing(engine: Engine) -> None:
    app, keys = _app(engine)
    _floor, case_id = _open(app, engine, keys["agent"])
    # The key is not cached yet for the auditor: its lookup commits before the case is read, and
    # the floor ends that transaction where the route did.
    floor = _capture(app, engine, keys["auditor"], "GET", f"/v1/cases/{case_id}")
    assert ("<commit>", None) in floor.statements and not floor.fresh
    before = {t: _count(engine, t) for t in ("cases", "case_events", "creator_links")}
    rows = floor.run(engine)
    assert floor.run(engine) == rows
    assert rows[0][0] == case_id
    assert {t: _count(engine, t) for t in before} == before


def test_the_decoded_floor_holds_the_rows_json_as_values(engine: Engine) -> None:
    app, keys = _app(engine)
    _open(app, engine, keys["agent"])
    floor = _capture(app, engine, keys["agent"], "GET", "/v1/cases?queue=creator-support")
    row = decoded(floor.run(engine))[0]
    # SQLite's listing reads the clocks' JSON text (decoded here); PostgreSQL's the whole state
    # (decoded by its driver already).
    clocks = [v if isinstance(v, list) else v.get("clocks") for v in row if isinstance(v, list | dict)]
    assert any(c and c[0]["name"] == "first_response" for c in clocks)


def test_a_floor_replays_in_or_out_of_a_transaction_as_the_route_sent_it(engine: Engine) -> None:
    """On PostgreSQL a read runs outside any transaction (no BEGIN and COMMIT round trips), and so
    does its floor; the connection goes back to the pool as it was lent. SQLite's driver has no
    such switch here: its BEGINs are statements."""
    app, keys = _app(engine)
    opening, case_id = _open(app, engine, keys["agent"])
    reading = _capture(app, engine, keys["agent"], "GET", f"/v1/cases/{case_id}")
    postgres = engine.dialect.name == "postgresql"
    assert (reading.autocommit, opening.autocommit) == ((True, False) if postgres else (None, None))
    reading.run(engine)
    lent = [engine.raw_connection() for _ in range(3)]
    try:
        assert not any(getattr(c.driver_connection, "autocommit", False) for c in lent)
    finally:
        for c in lent:
            c.close()
