"""The per-process cache of valid API keys: a key used a moment ago is not looked up again, yet a key
revoked in this process is refused on the next request, and a cached holder expires after the TTL."""

from __future__ import annotations

from casework import api_keys
from casework.api_keys import KeyCache, KeyHolder
from models.db import session_scope
from models.kinds import Role
from tests.api.conftest import ApiWorld


def test_a_key_revoked_in_this_process_is_refused_on_the_next_request(api: ApiWorld) -> None:
    assert api.get("/v1/cases", who="auditor").status_code == 200  # now cached
    with session_scope(api.engine) as session:
        api_keys.revoke_key(session, "auditor-1", api.clock())

    response = api.get("/v1/cases", who="auditor")

    assert response.status_code == 401
    assert "unknown or revoked" in response.json()["detail"]


def test_a_cached_holder_expires_after_the_ttl() -> None:
    now = [100.0]
    cache = KeyCache(ttl=5.0, clock=lambda: now[0])
    holder = KeyHolder(7, "ana", Role.AGENT)
    cache.put("sqlite:///a.db", "ll_secret", holder)

    now[0] = 104.9
    assert cache.get("sqlite:///a.db", "ll_secret") == holder
    assert cache.get("sqlite:///b.db", "ll_secret") is None  # another database is asked itself
    now[0] = 105.0
    assert cache.get("sqlite:///a.db", "ll_secret") is None
