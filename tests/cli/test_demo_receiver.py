"""`lifeline serve --demo`'s webhook receiver (cli/demo_receiver.py): the channels file it writes is
one the worker accepts, each delivery's signature is checked as a real receiver must, what came in
is listed newest first; and served for real, the demo's notifications reach it instead of dying."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.demo_receiver import (
    CHANNELS_FILE_NAME,
    KEPT,
    DemoReceiver,
    UnknownDemoChannel,
    channels_file_beside,
    write_channels_file,
)
from flows.signing import SIGNATURE_HEADER, InvalidSignature, signed_headers
from flows.webhooks import load_targets
from tests.serve_process import poll, serve_environment, serving

#: The receiver's clock: 2027-01-15T08:00:00Z.
NOW = 1_800_000_000
SECRET = "demo-secret"


def body_of(case_id: str = "cs_1", reason: str = "first_response breached") -> bytes:
    document = {
        "case_id": case_id,
        "incident_type": "account_locked",
        "case": {"priority": "P1", "stage": "frontline"},
        "reason": reason,
        "kind": "notified",
    }
    return json.dumps(document).encode()


def signed(body: bytes, secret: str = SECRET, at: int = NOW) -> str:
    return signed_headers(secret, body, at)[SIGNATURE_HEADER]


def receiver() -> DemoReceiver:
    return DemoReceiver({"support-leads": SECRET}, clock=lambda: NOW)


def test_the_channels_file_sends_each_channel_to_the_receiver_with_its_own_secret(tmp_path: Path) -> None:
    path = tmp_path / CHANNELS_FILE_NAME
    written = write_channels_file(path, "http://127.0.0.1:8000", ["support-leads", "tns-leads"])

    targets = load_targets(path)  # the worker's own reading of a channels file
    assert {name: target.url for name, target in targets.items()} == {
        "support-leads": "http://127.0.0.1:8000/demo/hooks/support-leads",
        "tns-leads": "http://127.0.0.1:8000/demo/hooks/tns-leads",
    }
    assert {name: target.secret for name, target in targets.items()} == written.secrets
    assert written.secrets["support-leads"] != written.secrets["tns-leads"]


def test_the_channels_file_goes_beside_the_sqlite_file_else_in_the_working_folder(tmp_path: Path) -> None:
    beside = channels_file_beside(f"sqlite:///{tmp_path / 'data' / 'lifeline.sqlite'}")
    assert beside == tmp_path / "data" / CHANNELS_FILE_NAME
    elsewhere = channels_file_beside("postgresql+psycopg://postgres@127.0.0.1/test")
    assert elsewhere == Path.cwd() / CHANNELS_FILE_NAME


def test_a_signed_delivery_is_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    demo = receiver()
    body = body_of()
    with caplog.at_level(logging.INFO, logger="lifeline.demo"):
        got = demo.receive("support-leads", signed(body), body)

    assert (got.channel, got.received_at) == ("support-leads", "2027-01-15T08:00:00Z")
    assert got.body["case_id"] == "cs_1"
    line = "support-leads <- case cs_1 (account_locked, P1, stage frontline): first_response breached"
    assert line in caplog.text
    assert demo.received() == [got]


@pytest.mark.parametrize(
    ("channel", "header", "body", "error", "message"),
    [
        ("support-leads", signed(body_of(), secret="another"), body_of(), InvalidSignature, "does not match"),
        ("support-leads", signed(body_of(), at=NOW - 3600), body_of(), InvalidSignature, "tolerance"),
        ("support-leads", None, body_of(), InvalidSignature, "missing X-Lifeline-Signature"),
        ("support-leads", "v1=abc", body_of(), InvalidSignature, "needs t="),
        ("support-leads", signed(b"[1, 2]"), b"[1, 2]", ValueError, "not a JSON object"),
        ("legal-team", signed(body_of()), body_of(), UnknownDemoChannel, "legal-team"),
    ],
    ids=["forged", "replayed-late", "unsigned", "malformed-header", "not-an-object", "unknown-channel"],
)
def test_a_delivery_that_is_not_the_workers_is_refused_and_not_kept(
    channel: str, header: str | None, body: bytes, error: type[Exception], message: str
) -> None:
    demo = receiver()
    with pytest.raises(error, match=message):
        demo.receive(channel, header, body)
    assert demo.received() == []


def test_only_the_newest_notifications_are_kept_newest_first() -> None:
    demo = receiver()
    for n in range(KEPT + 5):
        body = body_of(case_id=f"cs_{n}")
        demo.receive("support-leads", signed(body), body)

    kept = [item.body["case_id"] for item in demo.received()]
    assert len(kept) == KEPT
    assert kept[0] == f"cs_{KEPT + 4}" and kept[-1] == "cs_5"


# --- served for real --------------------------------------------------------------------------------


def _received(base: str, key: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/demo/hooks", headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()
    return items


@pytest.mark.e2e
def test_serve_demo_delivers_the_demos_notifications_to_its_receiver(tmp_path: Path) -> None:
    env = serve_environment(tmp_path)
    env.pop("LIFELINE_CHANNELS_FILE", None)
    with serving(env, tmp_path / "serve.log", "--demo") as serve:
        key = serve.log_match(r"Agent key:\s+(ll_\S+)").group(1)
        # Some demo cases are already at risk when the demo opens them: the worker's first sweep
        # notifies, its first delivery run posts to the receiver.
        received = poll(lambda: _received(serve.base, key), 60, "a notification at /demo/hooks")

        written = json.loads((tmp_path / CHANNELS_FILE_NAME).read_text())["channels"]
        assert len(written) == 9
        assert all(c["url"].startswith(f"{serve.base}/demo/hooks/") for c in written.values())
        first = received[0]
        channel, case_id = first["channel"], first["body"]["case_id"]
        assert channel in written and first["body"]["kind"] == "notified"
        case = httpx.get(f"{serve.base}/v1/cases/{case_id}", headers={"Authorization": f"Bearer {key}"})
        assert case.status_code == 200  # a demo case, as stored
        assert f"demo webhook {channel} <- case {case_id}" in serve.log_text()

        forged_signature = {SIGNATURE_HEADER: f"t={NOW},v1=00"}
        forged = httpx.post(f"{serve.base}/demo/hooks/support-leads", content=b"{}", headers=forged_signature)
        assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"
        unknown = httpx.post(f"{serve.base}/demo/hooks/nobody", content=b"{}")
        assert unknown.status_code == 404 and "no channel 'nobody'" in unknown.json()["detail"]
        assert httpx.get(f"{serve.base}/demo/hooks").status_code == 401  # the list needs a key
    log = serve.log_text()
    assert "will be dead letters" not in log and not re.search(r"dead=[1-9]", log)


@pytest.mark.e2e
def test_a_channels_file_of_ones_own_replaces_the_demo_receiver(tmp_path: Path) -> None:
    own = tmp_path / "channels.json"
    channels = {"support-leads": {"url": "http://127.0.0.1:9/hooks", "secret": "s"}}
    own.write_text(json.dumps({"channels": channels}))
    env = serve_environment(tmp_path, LIFELINE_CHANNELS_FILE=str(own))
    with serving(env, tmp_path / "serve.log", "--demo") as serve:
        key = serve.log_match(r"Agent key:\s+(ll_\S+)").group(1)
        listed = httpx.get(f"{serve.base}/demo/hooks", headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 404
        assert "Webhooks:" not in serve.log_text()
    assert not (tmp_path / CHANNELS_FILE_NAME).exists()
