"""The demo's data key: the demo declares its sensitive attributes encrypted, so it
needs a key, which never lives in the home. Unless ``RAIGOV_DATA_KEY_FILE`` or
``RAIGOV_DATA_KEY`` is already set, the demo makes ``<home>.data-key`` beside the home
directory (mode 0600) and sets ``RAIGOV_DATA_KEY_FILE`` for itself and its children."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from raigov.home import Home
from raigov.store.parquet_crypto import DATA_KEY_ENV, DATA_KEY_FILE_ENV, load_data_key

KEY_LINE = ("Data key: {path} (outside the home). Later commands on this home need "
            "`export {env}={path}`.")


def demo_key_path(home: Home) -> Path:
    root = home.root.expanduser().resolve()
    return root.parent / f"{root.name}.data-key"


def ensure_demo_data_key(home: Home) -> Path | None:
    """The key file the demo uses (made when none is set); None when the key comes
    from ``RAIGOV_DATA_KEY``."""
    if os.environ.get(DATA_KEY_FILE_ENV) or os.environ.get(DATA_KEY_ENV):
        load_data_key(home)                      # refuse a bad or in-home key now
        path = os.environ.get(DATA_KEY_FILE_ENV)
        return Path(path) if path else None
    path = demo_key_path(home)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    os.environ[DATA_KEY_FILE_ENV] = str(path)
    load_data_key(home)
    return path
