"""Webhook signatures as a receiver checks them."""

from __future__ import annotations

import pytest

from flows.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    encode_body,
    signed_headers,
    verify,
)

SECRET = "whsec_test"
BODY = encode_body({"notification_id": 7, "case_id": "c1", "kind": "notified"})
TS = 1_780_000_000


def test_a_signed_body_verifies_and_names_its_timestamp() -> None:
    headers = signed_headers(SECRET, BODY, TS)
    assert headers[TIMESTAMP_HEADER] == str(TS)
    assert headers[SIGNATURE_HEADER].startswith(f"t={TS},v1=")
    assert verify(SECRET, headers[SIGNATURE_HEADER], BODY, now=TS + 5) == TS


@pytest.mark.parametrize(
    ("secret", "body", "now", "message"),
    [
        ("other-secret", BODY, TS, "does not match"),
        (SECRET, BODY.replace(b"c1", b"c2"), TS, "does not match"),
        (SECRET, BODY, TS + 301, "tolerance"),
    ],
    ids=["wrong secret", "tampered body", "replayed late"],
)
def test_a_wrong_secret_a_changed_body_or_an_old_timestamp_is_refused(
    secret: str, body: bytes, now: int, message: str
) -> None:
    header = signed_headers(SECRET, BODY, TS)[SIGNATURE_HEADER]
    with pytest.raises(InvalidSignature, match=message):
        verify(secret, header, body, now=now)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=xyz,v1=abc", "garbage"])
def test_a_missing_or_malformed_header_is_refused_with_a_reason(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, now=TS)


def test_the_body_encoding_is_stable_whatever_the_key_order() -> None:
    assert encode_body({"b": 1, "a": "é"}) == encode_body({"a": "é", "b": 1}) == '{"a":"é","b":1}'.encode()
