"""Setting up a home's checkpoint signing key: what ``raigov ledger init-signing`` does,
here so that ``raigov demo`` makes its key the same way rather than a second way.

The new Ed25519 private key is written outside the home (mode 0600, never over an
existing file), its public key is recorded in the ledger (``ledger.signing_key``) and a
first checkpoint of the head is signed with it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from raigov.errors import ConfigError
from raigov.home import Home

KEY_ALREADY = ("The ledger already records signing key {fp} (event {seq}); to replace it, "
               "run `raigov ledger rotate-key --new-private-key PATH` with the current key "
               "in RAIGOV_SIGNING_KEY_FILE.")


@dataclass(frozen=True)
class SigningInit:
    """What ``init_signing`` did: the key's fingerprint and file, the ``ledger.signing_key``
    event and the event the first checkpoint covers (``None``: none was written)."""

    fingerprint: str
    path: Path
    event_seq: int
    checkpoint_seq: int | None


def init_signing(home: Home, private_key: Path, *, actor: str) -> SigningInit:
    """Create the checkpoint signing key at ``private_key`` (outside the home), record its
    public key in the ledger and sign a first checkpoint of the current head. Refuses a
    path inside the home and a ledger that already records a key (rotate it instead)."""
    from raigov.ledger.chain import read_events, record_signing_key
    from raigov.ledger.checkpoints import write_checkpoint
    from raigov.ledger.signing import (KEY_INSIDE_HOME, SIGNING_KEY_EVENT, fingerprint,
                                       generate_private_key, is_inside, write_private_key)
    from raigov.store.catalog import catalog

    target = private_key.expanduser().absolute()
    if is_inside(target, home.root):
        raise ConfigError(KEY_INSIDE_HOME.format(path=target, home=home.root))
    with catalog(home, read_only=True) as con:
        existing = read_events(con, kind=SIGNING_KEY_EVENT)
    if existing:
        raise ConfigError(KEY_ALREADY.format(fp=existing[0].payload.get("fingerprint"),
                                             seq=existing[0].seq))
    key = generate_private_key()
    write_private_key(target, key)
    legacy = (home.root / "ledger.checkpoints").exists()
    with _signing_with(target):       # the unit's own checkpoint is signed by the new key
        with catalog(home) as con:
            event = record_signing_key(con, key.public_key(), actor=actor,
                                       extra={"migrated_legacy_checkpoints": legacy})
    checkpoint = write_checkpoint(home, key=key)
    return SigningInit(fingerprint(key.public_key()), target, event.seq,
                       checkpoint.seq if checkpoint else None)


@contextmanager
def _signing_with(path: Path) -> Iterator[None]:
    """``RAIGOV_SIGNING_KEY_FILE`` names ``path`` for the block, so the checkpoint the
    ledger writes after the key's own event is signed (no "no checkpoint" warning)."""
    from raigov.ledger.signing import SIGNING_KEY_ENV

    before = os.environ.get(SIGNING_KEY_ENV)
    os.environ[SIGNING_KEY_ENV] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SIGNING_KEY_ENV, None)
        else:
            os.environ[SIGNING_KEY_ENV] = before
