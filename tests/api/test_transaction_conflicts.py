"""A transaction PostgreSQL aborts because of a concurrent one (here a deadlock) is a 409 problem to
retry, with nothing of it written; never a 500 (models.db.TransactionConflict)."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import text

from tests.api.conftest import ApiWorld
from tests.lock_waits import wait_for_a_lock_wait

LOCK = text("SELECT id FROM cases WHERE id = :id FOR UPDATE")


def test_a_link_caught_in_a_deadlock_is_a_409_to_retry_and_the_retry_links(api: ApiWorld) -> None:
    if api.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a transaction never waits for another's rows")
    first, second = sorted(api.open_case()["id"] for _ in range(2))
    answers: list[httpx.Response] = []

    def link() -> None:  # locks both cases in id order: holds `first`, then waits for `second`
        answers.append(api.post(f"/v1/cases/{first}/links", json={"kind": "related", "case_id": second}))

    linking = threading.Thread(target=link)
    with api.engine.connect() as other, other.begin() as transaction:
        other.exec_driver_sql("SET LOCAL deadlock_timeout = '20s'")  # the link's side detects it
        other.execute(LOCK, {"id": second})
        linking.start()
        wait_for_a_lock_wait(api.engine)
        other.execute(LOCK, {"id": first})  # the deadlock: PostgreSQL aborts the link's transaction
        transaction.rollback()
    linking.join(timeout=30)

    [refused] = answers
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "/problems/conflict" and "retry" in refused.json()["detail"]
    assert refused.headers["Retry-After"] == "1"
    assert api.get(f"/v1/cases/{first}").json()["links"]["related"] == []  # nothing was written
    again = api.post(f"/v1/cases/{first}/links", json={"kind": "related", "case_id": second})
    assert again.status_code in (200, 201), again.text
    assert [c["id"] for c in api.get(f"/v1/cases/{first}").json()["links"]["related"]] == [second]
