"""`make run` and `lifeline serve --demo` as a newcomer meets them (issue 17, item 10): HOST and PORT
are honoured, a busy port fails before the database is touched, and the demo loads once."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from casework.creator import links
from cli.demo_command import CASES, run_demo
from cli.main import app
from models.db import make_engine, session_scope
from models.tables import ApiKey, Case

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    yield holder.getsockname()[1]
    holder.close()


def test_a_busy_port_exits_2_before_the_database_is_written(busy_port: int, tmp_path: Path) -> None:
    database = tmp_path / "lifeline.sqlite"
    result = runner.invoke(
        app,
        ["serve", "--demo", "--no-worker", "--port", str(busy_port)],
        env={"LIFELINE_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    assert "another server is using it" in result.stderr
    assert not database.exists()


def test_an_unknown_host_exits_2(tmp_path: Path) -> None:
    database = tmp_path / "lifeline.sqlite"
    result = runner.invoke(
        app,
        ["serve", "--no-worker", "--host", "no-such-host.invalid", "--port", "8123"],
        env={"LIFELINE_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert result.exit_code == 2, result.output
    assert "cannot listen on no-such-host.invalid:8123" in result.stderr
    assert not database.exists()


@pytest.mark.parametrize(
    ("arguments", "environment", "expected"),
    [
        ([], {}, "--host 127.0.0.1 --port 8000"),
        (["PORT=9123", "HOST=0.0.0.0"], {}, "--host 0.0.0.0 --port 9123"),
        ([], {"PORT": "9124", "HOST": "::1"}, "--host ::1 --port 9124"),
    ],
)
def test_make_run_honours_host_and_port(
    arguments: list[str], environment: dict[str, str], expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")} | environment
    shown = subprocess.run(
        ["make", "-n", "run", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"lifeline serve --demo {expected}" in shown


def test_the_demo_twice_adds_no_cases_and_no_key(db_url: str) -> None:
    first = run_demo(db_url, now=NOW)
    second = run_demo(db_url, now=NOW + timedelta(minutes=5))
    assert len(first.case_ids) == len(CASES) == 12 and first.key is not None
    assert (second.case_ids, second.key, second.already_loaded) == ([], None, 12)
    engine = make_engine(db_url)
    try:
        with session_scope(engine, write=False) as session:
            cases = session.exec(select(func.count()).select_from(Case)).one()
            keys = session.exec(select(ApiKey.name)).all()
    finally:
        engine.dispose()
    assert (cases, keys) == (12, ["demo-agent"])


def test_the_demo_gives_each_case_its_creator_link_once(db_url: str) -> None:
    first = run_demo(db_url, now=NOW)
    engine = make_engine(db_url)
    try:
        with session_scope(engine, write=False) as session:
            opened = [links.resolve(session, token, NOW).id for token in first.creator_tokens]
    finally:
        engine.dispose()
    assert opened == first.case_ids and len(set(first.creator_tokens)) == 12
    assert run_demo(db_url, now=NOW + timedelta(minutes=5)).creator_tokens == []  # shown once


def test_lifeline_demo_prints_links_on_the_public_url(tmp_path: Path) -> None:
    env = {
        "LIFELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'lifeline.sqlite'}",
        "LIFELINE_PUBLIC_URL": "https://support.example/",
    }
    shown = runner.invoke(app, ["demo"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "  API docs:   https://support.example/docs" in shown.stdout
    assert re.search(r"Creator:    https://support\.example/status/[\w-]+ ", shown.stdout)


def test_the_second_demo_says_it_is_loaded(tmp_path: Path) -> None:
    env = {"LIFELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'lifeline.sqlite'}"}
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    again = runner.invoke(app, ["demo"], env=env)
    assert again.exit_code == 0, again.output
    assert "The demo is loaded already (12 cases): no new cases, no new key" in again.stdout
    assert "Agent key" not in again.stdout
