"""The demo's ledger signing key: every ledger event the demo writes must be covered by
a signed checkpoint, or ``raigov audit verify`` fails on the demo's home, and the
private key never lives in the home. Unless ``RAIGOV_SIGNING_KEY_FILE`` is already set,
the demo makes ``<home>.signing-key`` beside the home directory the way ``raigov ledger
init-signing`` does (mode 0600), reuses that file when it is there, and sets
``RAIGOV_SIGNING_KEY_FILE`` for itself and its children (serve, the dashboard)."""

from __future__ import annotations

import os
from pathlib import Path

from raigov.cli.demo.fleet import DEMO_ACTOR
from raigov.home import Home
from raigov.ledger.init_signing import init_signing
from raigov.ledger.signing import SIGNING_KEY_ENV, configured_private_key, load_private_key

SIGNING_KEY_LINE = "Signing key: later commands need `export {env}={path}`."


def demo_signing_key_path(home: Home) -> Path:
    root = home.root.expanduser().resolve()
    return root.parent / f"{root.name}.signing-key"


def ensure_demo_signing_key(home: Home) -> Path:
    """The key file the demo signs with: the one ``RAIGOV_SIGNING_KEY_FILE`` names, else
    ``<home>.signing-key`` (made when missing). Call it before the demo's first event."""
    named = os.environ.get(SIGNING_KEY_ENV)
    if named:
        configured_private_key(home)             # refuse a bad key (or one in the home) now
        return Path(named).expanduser()
    path = demo_signing_key_path(home)
    # Set first, so that the checkpoint after the key's own event is signed too.
    os.environ[SIGNING_KEY_ENV] = str(path)
    try:
        if path.exists():
            load_private_key(path)               # refuse a bad key now
        else:
            init_signing(home, path, actor=DEMO_ACTOR)
    except BaseException:
        del os.environ[SIGNING_KEY_ENV]
        raise
    return path
