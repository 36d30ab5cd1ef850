"""Fixtures for the flow tests: one Prefect test server per session, a webhook receiver, channels.

Prefect's settings are read once, at its first import, so this module points PREFECT_HOME at a
temporary directory and applies Lifeline's Prefect defaults before anything imports Prefect.
Tests that need Prefect take ``prefect_harness`` (session-scoped: the server takes ~13 s to start);
everything else here runs without Prefect.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="lifeline-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")

from flows.prefect_settings import apply_prefect_defaults  # noqa: E402

apply_prefect_defaults()

from tests.flows.webhook_receiver import ReceiverState, webhook_receiver  # noqa: E402

WEBHOOK_SECRET = "whsec_lifeline_tests"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server and database for the whole test session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def receiver() -> Iterator[tuple[str, ReceiverState]]:
    """A running webhook receiver on 127.0.0.1 that verifies signatures with WEBHOOK_SECRET."""
    with webhook_receiver(WEBHOOK_SECRET) as running:
        yield running
