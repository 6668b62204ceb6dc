"""Rotating the checkpoint signing key without breaking what an auditor holds.

A rotation is a ``ledger.signing_key`` event for the new key that carries a *link* to
the key before it: one statement, ``{"previous": old fingerprint, "next": new
fingerprint, "next_public_key": new PEM}``, signed by **both** keys. The old key's
signature (``endorsement``) says its holder handed over; the new key's (``acceptance``)
says the new key's holder vouches for the old one. Because each link is signed both
ways, an auditor who holds *any* key of the chain (the first one they were given, or
the newest) trusts every key linked to it, and nobody without one of those private keys
can add a key to the chain.

Each key signs checkpoints for a span of the ledger: the first from the start, each
later key from its rotation event on; a key retires at the event that rotates it (the
old key still signs the checkpoint covering that event). A checkpoint signed by a
retired key for a later event is a failure: a process still running with the old key
file, or someone who stole it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

from raigov.canonical import canonical_json
from raigov.errors import ConfigError
from raigov.ledger.chain import SIGNING_KEY_EVENT, LedgerEvent
from raigov.ledger.signing import fingerprint, load_public_pem, public_pem, sign_bytes, signature_valid

NOT_CURRENT = ("RAIGOV_SIGNING_KEY_FILE holds key {held}, but the ledger's current signing "
               "key is {current}: a rotation must be signed by the current key")
NO_KEY_YET = ("The ledger records no signing key yet: run `raigov ledger init-signing "
              "--private-key PATH` first")
LINK_BROKEN = ("event {seq} (ledger.signing_key) adds key {fp} without a valid link to the "
               "key before it ({previous}): {why}")


@dataclass(frozen=True)
class ChainKey:
    """A key of the signing chain and the span of events whose checkpoints it signs
    (``retired_at``: the event that rotated it out, ``None`` for the current key)."""

    fingerprint: str
    key: Ed25519PublicKey
    event: LedgerEvent | None      # None: a key the auditor holds, not in the chain
    from_seq: int
    retired_at: int | None = None

    def covers(self, seq: int) -> bool:
        return seq >= self.from_seq and (self.retired_at is None or seq <= self.retired_at)


def link_statement(previous_fp: str, new_key: Ed25519PublicKey) -> bytes:
    return canonical_json({"previous": previous_fp, "next": fingerprint(new_key),
                           "next_public_key": public_pem(new_key)}).encode("utf-8")


def rotation_payload(old: Ed25519PrivateKey, new: Ed25519PrivateKey) -> dict[str, str]:
    """What the rotation event carries beside the new public key."""
    old_fp = fingerprint(old.public_key())
    statement = link_statement(old_fp, new.public_key())
    return {"previous_fingerprint": old_fp, "endorsement": sign_bytes(old, statement),
            "acceptance": sign_bytes(new, statement)}


def current_key_fingerprint(events: Sequence[LedgerEvent]) -> str:
    keys = [e for e in events if e.kind == SIGNING_KEY_EVENT]
    if not keys:
        raise ConfigError(NO_KEY_YET)
    return str(keys[-1].payload.get("fingerprint"))


def check_rotating_key(events: Sequence[LedgerEvent], held: Ed25519PrivateKey) -> None:
    current = current_key_fingerprint(events)
    if fingerprint(held.public_key()) != current:
        raise ConfigError(NOT_CURRENT.format(held=fingerprint(held.public_key()),
                                             current=current))


@dataclass(frozen=True)
class KeyChain:
    """The recorded keys in order; ``broken``: (event, message) for each key event that
    does not link to the one before it (that key and every later one are left out)."""

    keys: tuple[ChainKey, ...]
    broken: tuple[tuple[LedgerEvent, str], ...] = ()

    def by_fingerprint(self) -> dict[str, ChainKey]:
        return {k.fingerprint: k for k in self.keys}


def key_chain(events: Sequence[LedgerEvent]) -> KeyChain:
    """Walk the ``ledger.signing_key`` events: the first starts the chain, each later
    one must link to the key before it with both signatures valid."""
    keys: list[ChainKey] = []
    broken: list[tuple[LedgerEvent, str]] = []
    for event in (e for e in events if e.kind == SIGNING_KEY_EVENT):
        try:
            key = load_public_pem(str(event.payload.get("public_key", "")),
                                  source=f"event {event.seq}")
        except ConfigError as exc:
            broken.append((event, str(exc)))
            break
        fp = fingerprint(key)
        if not keys:
            keys.append(ChainKey(fp, key, event, from_seq=0))
            continue
        why = _link_problem(keys[-1], key, event)
        if why is not None:
            broken.append((event, LINK_BROKEN.format(seq=event.seq, fp=fp,
                                                     previous=keys[-1].fingerprint, why=why)))
            break
        keys[-1] = ChainKey(keys[-1].fingerprint, keys[-1].key, keys[-1].event,
                            keys[-1].from_seq, retired_at=event.seq)
        keys.append(ChainKey(fp, key, event, from_seq=event.seq))
    return KeyChain(tuple(keys), tuple(broken))


def _link_problem(previous: ChainKey, key: Ed25519PublicKey, event: LedgerEvent) -> str | None:
    payload = event.payload
    if payload.get("previous_fingerprint") != previous.fingerprint:
        return (f"it names {payload.get('previous_fingerprint') or 'no previous key'} "
                "as the key before it")
    statement = link_statement(previous.fingerprint, key)
    if not signature_valid(previous.key, statement, str(payload.get("endorsement", ""))):
        return "the previous key's endorsement does not verify"
    if not signature_valid(key, statement, str(payload.get("acceptance", ""))):
        return "the new key's acceptance does not verify"
    return None
