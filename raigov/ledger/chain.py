"""The ledger: every state change as an event in a SHA-256 hash chain.

``hash = sha256(prev_hash + canonical_json(event))`` where the event holds its sequence
number, time, kind, actor, subject and payload. Events are appended inside the same
catalog transaction as the change they record, so a change and its event commit (or
vanish) together.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from raigov.canonical import canonical_json, iso_utc, sha256_hex, utcnow

GENESIS_HASH = "0" * 64
SIGNING_KEY_EVENT = "ledger.signing_key"


@dataclass(frozen=True)
class LedgerEvent:
    seq: int
    at: str
    kind: str
    actor: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "kind": self.kind, "actor": self.actor,
                "subject": self.subject, "payload": self.payload}


def event_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return sha256_hex(prev_hash + canonical_json(body))


def append_event(con: duckdb.DuckDBPyConnection, kind: str, *, actor: str, subject: str,
                 payload: dict[str, Any] | None = None,
                 at: dt.datetime | None = None) -> LedgerEvent:
    """Append one event to the chain, inside the caller's catalog transaction."""
    head = con.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    if head is None and kind != SIGNING_KEY_EVENT:
        # A new ledger started by a process that holds the signing key opens with the
        # public key, so the key every later checkpoint is checked against is event 1.
        from raigov.ledger.signing import configured_private_key

        key = configured_private_key()
        if key is not None:
            record_signing_key(con, key.public_key(), actor=actor, at=at)
            head = con.execute(
                "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    seq = 1 if head is None else head[0] + 1
    prev = GENESIS_HASH if head is None else head[1]
    payload_norm = json.loads(canonical_json(payload or {}))
    at_iso = iso_utc(at or utcnow())
    body = {"seq": seq, "at": at_iso, "kind": kind, "actor": actor, "subject": subject,
            "payload": payload_norm}
    digest = event_hash(prev, body)
    con.execute(
        "INSERT INTO ledger VALUES (?, ?::TIMESTAMPTZ, ?, ?, ?, ?::JSON, ?, ?)",
        [seq, at_iso, kind, actor, subject, canonical_json(payload_norm), prev, digest])
    return LedgerEvent(seq, at_iso, kind, actor, subject, payload_norm, prev, digest)


def read_events(con: duckdb.DuckDBPyConnection, *, kind: str | None = None,
                subject: str | None = None) -> list[LedgerEvent]:
    """Events in chain order, optionally filtered by kind and subject."""
    sql = ("SELECT seq, recorded_at, kind, actor, subject, payload::VARCHAR, prev_hash, hash "
           "FROM ledger WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR subject = ?) "
           "ORDER BY seq")
    rows = con.execute(sql, [kind, kind, subject, subject]).fetchall()
    return [LedgerEvent(r[0], iso_utc(r[1]), r[2], r[3], r[4], json.loads(r[5]), r[6], r[7])
            for r in rows]


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """(number of events, head hash)."""
    row = con.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), row[1])


def record_signing_key(con: duckdb.DuckDBPyConnection, public_key: Any, *, actor: str,
                       at: dt.datetime | None = None,
                       extra: dict[str, Any] | None = None) -> LedgerEvent:
    """Record the Ed25519 public key that signs this ledger's checkpoints."""
    from raigov.ledger.signing import ALGORITHM, fingerprint, public_pem

    payload = {"algorithm": ALGORITHM, "fingerprint": fingerprint(public_key),
               "public_key": public_pem(public_key), **(extra or {})}
    return append_event(con, SIGNING_KEY_EVENT, actor=actor, subject="ledger",
                        payload=payload, at=at)
