"""Signed, chained ledger checkpoints, kept outside the catalog.

The hash chain in the catalog proves that no event inside it was edited, but not that
the chain is the one that was written: events cut off its tail, or a whole chain rebuilt
with recomputed hashes, verify by themselves. So after every unit of work that appended
events, the head ``(seq, hash)`` is appended to ``<home>/ledger.checkpoints`` (JSON
lines), each line holding the SHA-256 of the line before it (``prev``) and an Ed25519
signature made with the private key named by ``RAIGOV_SIGNING_KEY_FILE``, a file outside
the home. The public key is recorded in the ledger (``ledger.signing_key``) and is what
``raigov ledger public-key`` prints for an auditor to keep.

With ``RAIGOV_CHECKPOINT_MIRROR`` set to a directory, every line is also appended to
``<mirror>/ledger.checkpoints``: a second copy the home's writer cannot quietly rewrite.

No key is ever created here: a process without ``RAIGOV_SIGNING_KEY_FILE`` writes no
checkpoint (it logs why), and ``raigov audit verify`` then fails on the uncovered events.
Lines written by older raigov versions (HMAC-signed with a key inside the home, no
``alg``) are read as *legacy*: they are checked against the chain but prove nothing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from raigov.canonical import canonical_json, iso_utc, sha256_hex, utcnow
from raigov.errors import RaigovError
from raigov.home import Home
from raigov.ledger.chain import GENESIS_HASH
from raigov.ledger.chain import head as ledger_head
from raigov.ledger.signing import (ALGORITHM, configured_private_key, fingerprint,
                                   sign_bytes)
from raigov.store.catalog import catalog, on_ledger_moved

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "ledger.checkpoints"
MIRROR_ENV = "RAIGOV_CHECKPOINT_MIRROR"
LEGACY_KEY_FILE = "checkpoint.key"      # the HMAC key of older versions (migration only)
_FIELDS = ("seq", "head_hash", "at", "prev", "alg", "key", "signature")
_LEGACY_FIELDS = ("seq", "head_hash", "at", "signature")

CHECKPOINT_WRITE_FAILED = "Could not write a ledger checkpoint to {path}: {error}"
NO_SIGNING_KEY = ("No ledger checkpoint written for event {seq}: RAIGOV_SIGNING_KEY_FILE is "
                  "not set (see `raigov ledger init-signing`); `raigov audit verify` will "
                  "fail until a signed checkpoint covers it")


@dataclass(frozen=True)
class Checkpoint:
    """One line of the checkpoint file: the ledger head at a moment, chained and signed.
    ``alg`` is ``None`` for a legacy (HMAC) line."""

    seq: int
    head_hash: str
    at: str
    signature: str
    prev: str | None = None
    alg: str | None = None
    key: str | None = None

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "head_hash": self.head_hash, "at": self.at,
                "prev": self.prev, "alg": self.alg, "key": self.key}

    def signed_bytes(self) -> bytes:
        return canonical_json(self.body()).encode("utf-8")

    def to_line(self) -> str:
        return canonical_json({**self.body(), "signature": self.signature}) + "\n"

    @property
    def legacy(self) -> bool:
        return self.alg is None


@dataclass(frozen=True)
class CheckpointLine:
    """A line as read back: the checkpoint, or why the line could not be parsed; ``text``
    is the line as stored (what the next line's ``prev`` hashes)."""

    line: int
    checkpoint: Checkpoint | None
    error: str | None = None
    text: str = ""


def checkpoint_path(home: Home) -> Path:
    return home.root / CHECKPOINT_FILE


def legacy_key_path(home: Home) -> Path:
    return home.keys / LEGACY_KEY_FILE


def mirror_dir() -> Path | None:
    name = os.environ.get(MIRROR_ENV)
    return Path(name).expanduser() if name else None


def line_hash(text: str) -> str:
    """What the next line's ``prev`` holds: SHA-256 of a line (without its newline)."""
    return sha256_hex(text.rstrip("\n"))


def write_checkpoint(home: Home, *, con: duckdb.DuckDBPyConnection | None = None,
                     head: tuple[int, str] | None = None,
                     key: Ed25519PrivateKey | None = None) -> Checkpoint | None:
    """Append the ledger head as a signed checkpoint; return it (``None``: empty ledger,
    or no signing key configured). The key is ``key``, else ``RAIGOV_SIGNING_KEY_FILE``.

    The head comes from ``head`` if given, else from ``con`` (it must see committed
    state), else from the catalog, opened read-only. A head equal to the last line is
    not repeated.
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
    key = key or configured_private_key(home)
    if key is None:
        log.warning(NO_SIGNING_KEY.format(seq=seq))
        return None
    written, appended = _append(checkpoint_path(home), key, int(seq), head_hash)
    mirror = mirror_dir()
    if mirror is not None and appended:
        mirror.mkdir(parents=True, exist_ok=True)
        _append_line(mirror / CHECKPOINT_FILE, written)
    return written


def _sign(key: Ed25519PrivateKey, seq: int, head_hash: str, prev: str) -> Checkpoint:
    unsigned = Checkpoint(seq, head_hash, iso_utc(utcnow()), "", prev=prev, alg=ALGORITHM,
                          key=fingerprint(key.public_key()))
    return Checkpoint(**{**unsigned.__dict__,
                         "signature": sign_bytes(key, unsigned.signed_bytes())})


def _append(path: Path, key: Ed25519PrivateKey, seq: int,
            head_hash: str) -> tuple[Checkpoint, bool]:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last_text = _last_line(fd)
        last = _parse_line(0, last_text).checkpoint if last_text is not None else None
        if last is not None and not last.legacy and last.seq == seq \
                and last.head_hash == head_hash:
            return last, False
        prev = GENESIS_HASH if last_text is None else line_hash(last_text)
        checkpoint = _sign(key, seq, head_hash, prev)
        os.write(fd, checkpoint.to_line().encode("utf-8"))
        os.fsync(fd)
        return checkpoint, True
    finally:
        os.close(fd)  # closing releases the lock


def _append_line(path: Path, checkpoint: Checkpoint) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, checkpoint.to_line().encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_line(fd: int) -> str | None:
    """The file's last line as stored (a cut line included), or ``None`` if empty."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    tail = os.pread(fd, min(size, 8192), max(size - 8192, 0)).decode("utf-8", "replace")
    text = tail.rstrip("\n").rsplit("\n", 1)[-1]
    return text if text.strip() else None


def record_checkpoint_after(home: Home, *, head: tuple[int, str] | None = None) -> Checkpoint | None:
    """Checkpoint the committed head once a unit of work that appended events is done.
    :func:`raigov.store.catalog.catalog` calls this after every read-write unit whose ledger
    head moved, so call sites never do.

    Never raises for an I/O failure, a bad key file or a busy catalog: the work is
    committed already; the failure is logged, and verification reports the gap.
    """
    try:
        return write_checkpoint(home, head=head)
    except (OSError, RaigovError) as exc:
        log.error(CHECKPOINT_WRITE_FAILED.format(path=checkpoint_path(home), error=exc))
        return None


def read_checkpoint_file(path: Path) -> list[CheckpointLine]:
    """Every non-blank line of a checkpoint file, parsed, with its 1-based number."""
    if not path.exists():
        return []
    raw = path.read_text(encoding="utf-8", errors="replace")
    lines = raw.splitlines()
    out = [_parse_line(number, text) for number, text in enumerate(lines, start=1)
           if text.strip()]
    if raw and not raw.endswith("\n") and out:
        last = out[-1]
        detail = "cut short (the file does not end with a line end)"
        if last.error is not None:
            detail += f": {last.error}"
        out[-1] = CheckpointLine(last.line, None, detail, last.text)
    return out


def read_checkpoints(home: Home) -> list[CheckpointLine]:
    return read_checkpoint_file(checkpoint_path(home))


def _parse_line(number: int, text: str) -> CheckpointLine:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return CheckpointLine(number, None, f"not valid JSON ({exc.msg})", text)
    if not isinstance(data, dict):
        return CheckpointLine(number, None, "not a JSON object", text)
    fields = _FIELDS if "alg" in data else _LEGACY_FIELDS
    missing = [f for f in fields if f not in data]
    if missing:
        return CheckpointLine(number, None, f"missing field(s) {', '.join(missing)}", text)
    if not isinstance(data["seq"], int) or isinstance(data["seq"], bool) or not all(
            isinstance(data[f], str) for f in fields if f != "seq"):
        return CheckpointLine(number, None, "a field has the wrong type", text)
    return CheckpointLine(number, Checkpoint(**{k: data[k] for k in fields}), None, text)


on_ledger_moved(lambda home, head: record_checkpoint_after(home, head=head))
