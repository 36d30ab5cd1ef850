"""Schemathesis against the app's own OpenAPI document (issue 17, item 9): every operation gets a
bounded number of generated requests, valid and invalid, sent in-process (ASGI) with a key of a
role that may use it, and every schemathesis check runs on each answer, so a 5xx, an undocumented
status, a body or header that breaks the document, or invalid input accepted fails the test.

``SCHEMATHESIS_EXAMPLES`` sets the examples per operation (default 15, about a minute here);
``HYPOTHESIS_PROFILE=long`` users can raise it for a deeper run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.rate_limit import FailedAuthLimiter
from models.db import make_engine
from models.migrate import migrate
from tests.api.conftest import FakeClock, create_keys, sample_policy
from tests.casework.builders import T0, open_one, register

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))

#: The role whose key each path prefix is called with (first match wins).
ROLE_BY_PATH = [
    ("/v1/policies/validate", "admin"),
    ("/v1/policies", "agent"),
    ("/v1/reports", "auditor"),
    ("/v1/audit", "auditor"),
    ("/v1/breaches", "auditor"),
    ("/v1/cases", "agent"),
    ("/v1/agents", "agent"),
    ("/v1/queues", "agent"),
]


# The schema is read when this module is collected (schemathesis' lazy fixture loader does not work
# with pytest 9), so the app exists then, on a database file the module fixture migrates and fills
# before the first request.
_DIRECTORY = Path(tempfile.mkdtemp(prefix="lifeline-schemathesis-"))
_URL = f"sqlite:///{_DIRECTORY / 'lifeline.sqlite'}"
_ENGINE = make_engine(_URL)
_APP = create_app(_ENGINE, clock=FakeClock(T0 + timedelta(hours=1)))
# Schemathesis sends requests without keys on purpose: keep them from tripping the limit.
_APP.state.auth_limiter = FailedAuthLimiter(limit=10**9)
# Every check stays on. "Schema-valid request rejected" accepts 422 and 412 besides its defaults:
# what only the server can know is not in any schema (a registered policy, a cursor this API gave
# out, from before to, the policy document's own validity, the case's current version).
_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422", "429"]
            }
        }
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP, config=_CONFIG)


@pytest.fixture(scope="module")
def keys() -> Iterator[dict[str, str]]:
    migrate(_URL)
    register(_ENGINE, sample_policy(), now=T0 - timedelta(days=1))
    for _ in range(3):
        open_one(_ENGINE)
    yield create_keys(_ENGINE, T0 - timedelta(days=1))
    _ENGINE.dispose()
    shutil.rmtree(_DIRECTORY, ignore_errors=True)


def _key_for(path: str, keys: dict[str, str]) -> dict[str, str]:
    role = next((r for prefix, r in ROLE_BY_PATH if path.startswith(prefix)), None)
    return {"Authorization": f"Bearer {keys[role]}"} if role else {}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_to_its_document(case: Any, keys: dict[str, str]) -> None:
    headers = dict(case.headers or {})
    headers.update(_key_for(case.path, keys))
    case.call_and_validate(headers=headers)
