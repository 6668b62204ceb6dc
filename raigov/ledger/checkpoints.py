"""Signed ledger checkpoints, kept outside the catalog.

The hash chain in the catalog proves that no event inside it was edited, but not that
the chain is the one that was written: events cut off its tail, or a whole chain rebuilt
with recomputed hashes, verify by themselves. So after every unit of work that appended
events, the head ``(seq, hash)`` is appended to ``<home>/ledger.checkpoints`` (JSON
lines) and signed with HMAC-SHA256 under a key in ``<home>/keys/checkpoint.key``
(32 random bytes, mode 0600, created on first use). :mod:`raigov.ledger.verify` checks
that every checkpoint is signed and that the chain still holds its event with its hash.

Every read-write :func:`raigov.store.catalog.catalog` unit of work that appended events
checkpoints the committed head on its way out; nothing else has to remember it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from raigov.canonical import canonical_json, iso_utc, utcnow
from raigov.store.catalog import catalog, on_ledger_moved
from raigov.errors import ConfigError, RaigovError
from raigov.home import Home
from raigov.ledger.chain import head as ledger_head

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "ledger.checkpoints"
KEY_FILE = "checkpoint.key"
KEY_BYTES = 32
_FIELDS = ("seq", "head_hash", "at", "signature")

KEY_WRONG_SIZE = ("The checkpoint key {path} holds {size} bytes, not {expected}: it was "
                  "damaged or replaced. Restore it from backup; do not create a new one.")
KEY_TOO_OPEN = "The checkpoint key {path} is readable by others (mode {mode:o}); chmod 600 it."
CHECKPOINT_WRITE_FAILED = "Could not write a ledger checkpoint to {path}: {error}"


@dataclass(frozen=True)
class Checkpoint:
    """One signed line of the checkpoint file: the ledger head at a moment."""

    seq: int
    head_hash: str
    at: str
    signature: str

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "head_hash": self.head_hash, "at": self.at}

    def to_line(self) -> str:
        return canonical_json({**self.body(), "signature": self.signature}) + "\n"


@dataclass(frozen=True)
class CheckpointLine:
    """A line as read back: the checkpoint, or why the line could not be parsed."""

    line: int
    checkpoint: Checkpoint | None
    error: str | None = None


def checkpoint_path(home: Home) -> Path:
    return home.root / CHECKPOINT_FILE


def key_path(home: Home) -> Path:
    return home.keys / KEY_FILE


def load_key(home: Home) -> bytes | None:
    """The checkpoint key, or ``None`` when none was created yet."""
    path = key_path(home)
    return _read_key(path) if path.exists() else None


def ensure_key(home: Home) -> bytes:
    """The checkpoint key, created (32 random bytes, mode 0600) on first use."""
    path = key_path(home)
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ConfigError(KEY_WRONG_SIZE.format(path=path, size=len(key), expected=KEY_BYTES))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning(KEY_TOO_OPEN.format(path=path, mode=mode))
    return key


def _create_key(path: Path) -> None:
    """Write the key to a private temporary file, then link it into place: the first
    process wins and every other one reads the complete key, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        os.write(fd, os.urandom(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def sign(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, canonical_json(body).encode("utf-8"), hashlib.sha256).hexdigest()


def signature_ok(key: bytes, checkpoint: Checkpoint) -> bool:
    return hmac.compare_digest(sign(key, checkpoint.body()), checkpoint.signature)


def write_checkpoint(home: Home, *, con: duckdb.DuckDBPyConnection | None = None,
                     head: tuple[int, str] | None = None) -> Checkpoint | None:
    """Append the ledger head as a signed checkpoint; return it (``None``: empty ledger).

    The head comes from ``head`` if given, else from ``con`` (it must see committed
    state: a checkpoint of an event that is later rolled back reads as tampering), else
    from the catalog, opened read-only. A head equal to the last line is not repeated.
    """
    if head is None:
        if con is None:
            with catalog(home, read_only=True) as ro:
                head = ledger_head(ro)
        else:
            head = ledger_head(con)
    seq, head_hash = head
    if seq == 0:
        return None
    key = ensure_key(home)
    at = iso_utc(utcnow())
    signature = sign(key, {"seq": int(seq), "head_hash": head_hash, "at": at})
    return _append(checkpoint_path(home), Checkpoint(int(seq), head_hash, at, signature))


def _append(path: Path, checkpoint: Checkpoint) -> Checkpoint:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        if last is not None and last.get("seq") == checkpoint.seq \
                and last.get("head_hash") == checkpoint.head_hash:
            return Checkpoint(**{k: last[k] for k in _FIELDS})
        os.write(fd, checkpoint.to_line().encode("utf-8"))
        os.fsync(fd)
        return checkpoint
    finally:
        os.close(fd)  # closing releases the lock


def _last_line(fd: int) -> dict[str, Any] | None:
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    tail = os.pread(fd, min(size, 4096), max(size - 4096, 0)).decode("utf-8", "replace")
    lines = tail.rstrip("\n").rsplit("\n", 1)
    try:
        parsed = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) and set(_FIELDS) <= parsed.keys() else None


def record_checkpoint_after(home: Home, *, head: tuple[int, str] | None = None) -> Checkpoint | None:
    """Checkpoint the committed head once a unit of work that appended events is done.
    :func:`raigov.store.catalog.catalog` calls this after every read-write unit whose ledger
    head moved, so call sites never do.

    Never raises for an I/O failure or a busy catalog: the work is committed already;
    the failure is logged and the next checkpoint covers these events too.
    """
    try:
        return write_checkpoint(home, head=head)
    except (OSError, RaigovError) as exc:
        log.error(CHECKPOINT_WRITE_FAILED.format(path=checkpoint_path(home), error=exc))
        return None


def read_checkpoints(home: Home) -> list[CheckpointLine]:
    """Every line of the checkpoint file, parsed, with its 1-based line number."""
    path = checkpoint_path(home)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [_parse_line(number, text) for number, text in enumerate(lines, start=1)
            if text.strip()]


def _parse_line(number: int, text: str) -> CheckpointLine:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return CheckpointLine(number, None, f"not valid JSON ({exc.msg})")
    if not isinstance(data, dict):
        return CheckpointLine(number, None, "not a JSON object")
    missing = [f for f in _FIELDS if f not in data]
    if missing:
        return CheckpointLine(number, None, f"missing field(s) {', '.join(missing)}")
    if not isinstance(data["seq"], int) or not all(
            isinstance(data[f], str) for f in ("head_hash", "at", "signature")):
        return CheckpointLine(number, None, "a field has the wrong type")
    return CheckpointLine(number, Checkpoint(**{k: data[k] for k in _FIELDS}))


on_ledger_moved(lambda home, head: record_checkpoint_after(home, head=head))
