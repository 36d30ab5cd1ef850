"""Signed chain digests: a hash chain cannot see its own tail cut off, so the worker periodically
signs a digest of every case's chain head (its last seq and that event's hash, and the policy
version the case pins) with an Ed25519 key (LIFELINE_SIGNING_KEY_FILE, made by
`lifeline keys signing-init`). Auditors export the latest digest (`lifeline audit digest`) and keep
it outside the database; `lifeline audit verify --digest FILE` then names every case whose history
no longer reaches its digested head, was rewritten below it, vanished, or pins another policy version.

Like every service: functions flush, the caller owns the transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, col, select

from casework.errors import DigestError
from models.tables import Case, CaseEvent, ChainDigest

FORMAT = "lifeline-chain-digest/1"


def create_signing_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, mode 0600) to ``path``; returns its key id. Refuses to
    overwrite an existing file (digests signed with it could no longer be told apart)."""
    if path.exists():
        raise DigestError(f"{path} already exists: keep it, or move it away to make a new key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key_id(key.public_key())


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise DigestError(f"signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DigestError(f"signing key {path}: not an Ed25519 key")
    return key


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """The SHA-256 (hex) of the raw public key: how digests and keys name each other."""
    return hashlib.sha256(_raw(public)).hexdigest()


def chain_heads(session: Session) -> dict[str, dict[str, Any]]:
    """Every case's head: ``{case_id: {"seq", "hash", "policy_id", "policy_version"}}``."""
    query = select(Case, CaseEvent.hash).join(
        CaseEvent, (col(CaseEvent.case_id) == col(Case.id)) & (col(CaseEvent.seq) == col(Case.last_seq))
    )
    return {
        case.id: {
            "seq": case.last_seq,
            "hash": digest,
            "policy_id": case.policy_id,
            "policy_version": case.policy_version,
        }
        for case, digest in session.exec(query.order_by(col(Case.id)))
    }


def write_digest(session: Session, key: Ed25519PrivateKey, now: datetime) -> ChainDigest:
    """Sign the current chain heads and store the digest; flushes."""
    public = key.public_key()
    signer = key_id(public)
    document: dict[str, Any] = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "key_id": signer,
        "public_key": base64.b64encode(_raw(public)).decode(),
        "cases": chain_heads(session),
    }
    body = json.dumps(document, sort_keys=True, separators=(",", ":"))
    signature = base64.b64encode(key.sign(body.encode())).decode()
    row = ChainDigest(
        created_at=now,
        cases=len(document["cases"]),
        key_id=signer,
        body=body,
        signature=signature,
    )
    session.add(row)
    session.flush()
    return row


def latest_digest(session: Session) -> dict[str, Any] | None:
    """The latest signed digest as auditors keep it: ``{"body": <the signed text>, "signature"}``."""
    query = select(ChainDigest).order_by(col(ChainDigest.created_at).desc(), col(ChainDigest.id).desc())
    row = session.exec(query).first()
    return None if row is None else {"body": row.body, "signature": row.signature}


@dataclass(frozen=True)
class DigestFinding:
    case_id: str
    problem: str

    def to_dict(self) -> dict[str, str]:
        return {"case_id": self.case_id, "problem": self.problem}


def configured_key_id(key_file: Path | None) -> str | None:
    """The key id of the deployment's signing key (LIFELINE_SIGNING_KEY_FILE) when it is set and
    readable here, else None: the key a digest must then be signed by. The CLI and the API both
    verify digests through it, so they trust the same key."""
    if key_file is None or not key_file.exists():
        return None
    return key_id(load_signing_key(key_file).public_key())


def read_digest(exported: dict[str, Any], trusted_key_id: str | None = None) -> dict[str, Any]:
    """The signed document of an exported digest, after checking its signature (and, when given,
    that it was signed by the key ``trusted_key_id``). Raises DigestError otherwise."""
    try:
        body, signature = str(exported["body"]), base64.b64decode(exported["signature"])
        document: dict[str, Any] = json.loads(body)
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(document["public_key"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DigestError(f"not a Lifeline chain digest ({type(exc).__name__}: {exc})") from None
    try:
        public.verify(signature, body.encode())
    except InvalidSignature:
        raise DigestError("the digest's signature does not match its contents") from None
    _check_heads(document)
    if document.get("key_id") != key_id(public):
        raise DigestError("the digest's key_id does not name its public key")
    if trusted_key_id is not None and document["key_id"] != trusted_key_id:
        raise DigestError(
            f"the digest was signed by key {document['key_id'][:12]}, not {trusted_key_id[:12]}"
        )
    return document


_HEAD_FIELDS = {"seq": int, "hash": str, "policy_id": str, "policy_version": int}


def _check_heads(document: dict[str, Any]) -> None:
    """A signature proves who signed, not that the signer wrote a digest: refuse a signed document
    whose ``cases`` are not chain heads, rather than fail while comparing."""
    cases = document.get("cases")
    if not isinstance(cases, dict) or not isinstance(document.get("created_at"), str):
        raise DigestError("not a Lifeline chain digest (no created_at or no cases object)")
    for case_id, head in cases.items():
        if not isinstance(head, dict) or any(
            not isinstance(head.get(name), kind) for name, kind in _HEAD_FIELDS.items()
        ):
            raise DigestError(f"not a Lifeline chain digest (case {case_id!r} is not a chain head)")


def check_against_digest(session: Session, document: dict[str, Any]) -> list[DigestFinding]:
    """Every digested case whose history no longer reaches its digested head (cut short, rewritten
    at or below it, or gone) or whose pinned policy version changed."""
    heads = chain_heads(session)
    hashes = _hashes_at(session, document["cases"])
    findings: list[DigestFinding] = []
    for case_id, was in sorted(document["cases"].items()):
        now = heads.get(case_id)
        if now is None:
            findings.append(
                DigestFinding(case_id, f"case missing: the digest has its history to seq {was['seq']}")
            )
            continue
        if now["seq"] < was["seq"]:
            findings.append(
                DigestFinding(
                    case_id,
                    f"history truncated: it ends at seq {now['seq']}, the digest has seq {was['seq']}",
                )
            )
        elif hashes.get(case_id) != was["hash"]:
            findings.append(
                DigestFinding(case_id, f"history rewritten: event seq {was['seq']} is not the digested one")
            )
        if (now["policy_id"], now["policy_version"]) != (was["policy_id"], was["policy_version"]):
            findings.append(
                DigestFinding(
                    case_id,
                    "pinned policy version changed: "
                    f"{was['policy_id']} v{was['policy_version']} in the digest, "
                    f"{now['policy_id']} v{now['policy_version']} now",
                )
            )
    return findings


def _hashes_at(session: Session, digested: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The stored hash of each digested case's event at its digested seq."""
    found: dict[str, str] = {}
    ids = sorted(digested)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        seqs = {digested[case_id]["seq"] for case_id in chunk}
        query = select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.hash).where(
            col(CaseEvent.case_id).in_(chunk), col(CaseEvent.seq).in_(seqs)
        )
        for case_id, seq, digest in session.exec(query):
            if digested[case_id]["seq"] == seq:
                found[case_id] = digest
    return found
