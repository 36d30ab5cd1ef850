"""The channels that registered policies notify but the channels file does not define (warned about
by the worker at start: their notifications would be dead letters)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from casework.registry.channel_names import notified_channels, undefined_channels
from cli.main import app
from models.db import session_scope

ROOT = Path(__file__).resolve().parents[2]


def test_each_notify_of_an_undefined_channel_is_named_with_its_policy_and_pointer(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    shutil.copy(ROOT / "policies" / "account_compromised.json", folder)
    result = CliRunner().invoke(app, ["policies", "apply", str(folder), "--database-url", db_url])
    assert result.exit_code == 0, result.output

    with session_scope(engine, write=False) as session:
        every = {"support-leads", "partner-managers", "security-oncall", "tns-leads"}
        assert undefined_channels(session, every) == []
        missing = undefined_channels(session, every - {"tns-leads"})

    assert missing and all(line.startswith("account-compromised v1 /") for line in missing)
    assert all(line.endswith("/notify: channel 'tns-leads'") for line in missing)


def test_the_notified_channels_are_those_of_every_policys_latest_version_each_once(
    engine: Engine, db_url: str
) -> None:
    result = CliRunner().invoke(app, ["policies", "apply", str(ROOT / "policies"), "--database-url", db_url])
    assert result.exit_code == 0, result.output

    with session_scope(engine, write=False) as session:
        channels = notified_channels(session)
        assert undefined_channels(session, channels) == []  # nothing notified is left out

    # The nine of the example channels file (channels.example.json), sorted, none twice.
    assert channels == [
        "account-recovery-leads",
        "brand-partnerships",
        "content-review-leads",
        "legal-team",
        "partner-managers",
        "payouts-leads",
        "security-oncall",
        "support-leads",
        "tns-leads",
    ]
