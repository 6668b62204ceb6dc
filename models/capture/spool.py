"""The spool: per-writer write-ahead files of acknowledged rows not yet sealed.

A spool file (``spool/<slot>/<ns>-<key>.wal``, ``<key>`` 32 hex digits of a random
key) is a sequence of frames::

    b"RGV2" | header length (u32) | payload length (u32) | crc32 of header+payload (u32)
    | tag (8 bytes: BLAKE2b, keyed with the file's key, of the 16 bytes before it)
    | header (JSON: lake table, model) | payload (an Arrow IPC stream of one table)

A frame is appended with one ``write`` and made durable by the group commit's
``fsync``. :func:`scan_spool` reads every valid frame. A damaged frame (a bad marker,
length, tag or CRC; a torn write at the end) does not end the file: the reader
resynchronises on the next offset where a marker starts a frame whose tag and CRC
check, so every frame after the damage is kept, and the damaged byte ranges are
returned for quarantine. The tag is what makes resynchronising safe: a frame is only
recognised with the file's key, which no client knows, so bytes a client sent (a
string feature that spells out a whole frame, say) can never pass as a frame when the
reader scans through a damaged region.

With a data key set (``RAIGOV_DATA_KEY_FILE``, the key that encrypts the lake), every
frame's payload is encrypted: AES-256-GCM under a key derived from the data key, a
random 12-byte nonce before the ciphertext, the frame's header as associated data, and
``"enc": "aes-256-gcm"`` in the header. So no acknowledged row lies in the home in
clear, even for the second before it is sealed. A frame that checks (tag and CRC) but
does not decrypt with the key at hand is not damage: reading it raises
:class:`SpoolKeyError` and the file waits in the spool for the right key.

Files written before the tag (``<ns>-<8 hex>.wal``, frames marked ``b"RGV1"`` without a
tag) still read: their frames are checked by CRC alone, so the reader does not
resynchronise in them; everything from their first bad frame on is returned as one
damaged range (kept in quarantine, never deleted).

Each slot is owned by one live process through an ``flock`` on ``spool/<slot>/LOCK``;
the lock dies with the process, so the next process to start takes over (and seals)
whatever a crashed writer left behind.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import os
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from raigov.errors import ConfigError

MAGIC = b"RGV2"
LEGACY_MAGIC = b"RGV1"
_HEAD = struct.Struct("<4sIII")           # marker, header length, payload length, crc
_TAG_SIZE = 8
_PREFIX = _HEAD.size + _TAG_SIZE
_KEY_HEX = 32

BAD_MARKER = "bad frame marker"
PAST_END = "frame length runs past the end of the file"
BAD_TAG = "frame tag does not match the file's key (a damaged length or marker)"
BAD_CRC = "CRC mismatch (damaged header or payload)"
UNDECODABLE = "frame checks but does not decode: {error}"
TORN_TAIL = "torn tail: {why}, and no valid frame follows (a write cut short)"
IN_THE_MIDDLE = "damaged frame: {why}; the next valid frame starts at byte {next}"
SPOOL_ENCRYPTION = "aes-256-gcm"
_NONCE = 12
NEEDS_KEY = ("The spool file {path} holds encrypted rows, and no data key is set: set "
             "RAIGOV_DATA_KEY_FILE to the key the capture process used; the file stays "
             "in the spool until then.")
WRONG_KEY = ("The spool file {path} holds rows encrypted under another data key (frame at "
             "byte {offset} does not decrypt with the key set); the file stays in the "
             "spool until the key it was written with is set.")
LEGACY_REST = ("{why}; a spool file of the old format (no frame tag) is not "
               "resynchronised, so the rest of the file from here is kept as is")


class SpoolKeyError(ConfigError):
    """An encrypted spool frame cannot be read with the data key at hand."""


def spool_cipher_key(data_key: bytes) -> bytes:
    """The spool's own key, derived from the data key (never the data key itself)."""
    return hmac.new(data_key, b"raigov spool frames v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Frame:
    lake_table: str
    model: str
    table: pa.Table
    span: tuple[int, int] = (0, 0)      # its bytes in the spool file: [start, end)


@dataclass(frozen=True)
class Damage:
    """A byte range of a spool file that holds no valid frame, and why."""

    offset: int
    length: int
    reason: str


@dataclass
class SpoolScan:
    frames: list[Frame] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)

    @property
    def damaged_bytes(self) -> int:
        return sum(d.length for d in self.damaged)


@dataclass(frozen=True)
class EncodedFrame:
    """A table ready for the spool, all but its tag (which needs the file's key)."""

    header: bytes
    payload: pa.Buffer
    crc: int

    @property
    def size(self) -> int:
        return _PREFIX + len(self.header) + self.payload.size

    def pieces(self, key: bytes) -> tuple[bytes, bytes, pa.Buffer]:
        head = _HEAD.pack(MAGIC, len(self.header), self.payload.size, self.crc)
        return head + _tag(key, head), self.header, self.payload


def encode_frame(table: pa.Table, *, lake_table: str, model: str,
                 cipher_key: bytes | None = None) -> EncodedFrame:
    """A table as a frame; encrypted when ``cipher_key`` (:func:`spool_cipher_key`) is
    given."""
    header = _header(lake_table, model, cipher_key is not None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue()
    if cipher_key is not None:
        nonce = secrets.token_bytes(_NONCE)
        payload = pa.py_buffer(nonce + AESGCM(cipher_key).encrypt(nonce, payload.to_pybytes(),
                                                                  header))
    return EncodedFrame(header, payload, zlib.crc32(payload, zlib.crc32(header)))


def frame_bytes(frame: EncodedFrame, key: bytes) -> bytes:
    return b"".join(frame.pieces(key))


@functools.lru_cache(maxsize=256)
def _header(lake_table: str, model: str, encrypted: bool = False) -> bytes:
    meta = {"table": lake_table, "model": model}
    if encrypted:
        meta["enc"] = SPOOL_ENCRYPTION
    return json.dumps(meta).encode()


def _tag(key: bytes, head: bytes) -> bytes:
    return hashlib.blake2b(head, key=key, digest_size=_TAG_SIZE).digest()


# -- file names and keys ------------------------------------------------------------
def new_spool_name() -> tuple[str, bytes]:
    """A new spool file's name (sorting by creation time) and its key."""
    key = secrets.token_bytes(_KEY_HEX // 2)
    return f"{time.time_ns():020d}-{key.hex()}.wal", key


def spool_key(path: Path) -> bytes | None:
    """The key a spool file's name carries; None for a file of the old format."""
    _, _, rest = path.stem.partition("-")
    if len(rest) != _KEY_HEX:
        return None
    try:
        return bytes.fromhex(rest)
    except ValueError:
        return None


# -- reading ------------------------------------------------------------------------
FROM_ENV = "environment"


def scan_spool(path: Path, *, data_key: bytes | None | str = FROM_ENV) -> SpoolScan:
    """Every valid frame of a spool file, in order, and every damaged byte range.
    Encrypted frames need ``data_key`` (default: the data key the environment sets);
    without it, or with another key, this raises :class:`SpoolKeyError` (the file is not
    damaged)."""
    if isinstance(data_key, str):
        from raigov.store.parquet_crypto import load_data_key

        data_key = load_data_key(None)
    data = path.read_bytes()
    key = spool_key(path)
    cipher = _Cipher(path, data_key)
    return _scan(data, key, cipher) if key is not None else _scan_legacy(data, cipher)


def read_frames(path: Path, *, data_key: bytes | None | str = FROM_ENV) -> tuple[list[Frame], int]:
    """The valid frames of a spool file and the number of bytes that hold none."""
    scan = scan_spool(path, data_key=data_key)
    return scan.frames, scan.damaged_bytes


@dataclass(frozen=True)
class _Cipher:
    path: Path
    data_key: bytes | None

    def open(self, meta: dict, header: bytes, payload: memoryview, offset: int) -> pa.Buffer:
        if meta.get("enc") is None:
            return pa.py_buffer(payload)
        if self.data_key is None:
            raise SpoolKeyError(NEEDS_KEY.format(path=self.path))
        blob = bytes(payload)
        try:
            return pa.py_buffer(AESGCM(spool_cipher_key(self.data_key)).decrypt(
                blob[:_NONCE], blob[_NONCE:], header))
        except InvalidTag:
            raise SpoolKeyError(WRONG_KEY.format(path=self.path, offset=offset)) from None


def _scan(data: bytes, key: bytes, cipher: _Cipher) -> SpoolScan:
    out, offset = SpoolScan(), 0
    while offset < len(data):
        end, why = _check(data, offset, key)
        frame = None
        if end is not None:
            frame, why = _decode(data, offset, _PREFIX, end, cipher)
        if frame is not None:
            out.frames.append(frame)
            offset = end
            continue
        if end is not None:   # checks but does not decode: its own range, boundaries sure
            out.damaged.append(Damage(offset, end - offset, why))
            offset = end
            continue
        following = _next_frame(data, offset + 1, key)
        reason = (TORN_TAIL.format(why=why) if following == len(data)
                  else IN_THE_MIDDLE.format(why=why, next=following))
        out.damaged.append(Damage(offset, following - offset, reason))
        offset = following
    return out


def _check(data: bytes, offset: int, key: bytes) -> tuple[int | None, str]:
    """The end of the frame at ``offset`` if its marker, tag, lengths and CRC check."""
    if offset + _PREFIX > len(data):
        return None, PAST_END
    magic, hlen, plen, crc = _HEAD.unpack_from(data, offset)
    if magic != MAGIC:
        return None, BAD_MARKER
    if _tag(key, data[offset:offset + _HEAD.size]) != data[offset + _HEAD.size:offset + _PREFIX]:
        return None, BAD_TAG
    start = offset + _PREFIX
    end = start + hlen + plen
    if end > len(data):
        return None, PAST_END
    view = memoryview(data)
    if zlib.crc32(view[start + hlen:end], zlib.crc32(view[start:start + hlen])) != crc:
        return None, BAD_CRC
    return end, ""


def _next_frame(data: bytes, start: int, key: bytes) -> int:
    """Where the next valid frame starts at or after ``start`` (the file's end if none).
    Each candidate costs a search for the marker and one keyed hash of 16 bytes."""
    at = data.find(MAGIC, start)
    while at != -1:
        if _check(data, at, key)[0] is not None:
            return at
        at = data.find(MAGIC, at + 1)
    return len(data)


def _decode(data: bytes, offset: int, prefix: int, end: int,
            cipher: _Cipher) -> tuple[Frame | None, str]:
    hlen = _HEAD.unpack_from(data, offset)[1]
    start = offset + prefix
    try:
        header = data[start:start + hlen]
        meta = json.loads(header)
        payload = cipher.open(meta, header, memoryview(data)[start + hlen:end], offset)
        table = pa.ipc.open_stream(payload).read_all()
        return Frame(meta["table"], meta["model"], table, (offset, end)), ""
    except (ValueError, KeyError, TypeError, AttributeError, pa.ArrowException) as exc:
        return None, UNDECODABLE.format(error=exc)


def _scan_legacy(data: bytes, cipher: _Cipher) -> SpoolScan:
    """Old-format frames (no tag), up to the first that does not check."""
    out, offset = SpoolScan(), 0
    while offset < len(data):
        why = _legacy_problem(data, offset)
        frame = None
        if why is None:
            end = offset + _HEAD.size + sum(_HEAD.unpack_from(data, offset)[1:3])
            frame, why = _decode(data, offset, _HEAD.size, end, cipher)
        if frame is None:
            out.damaged.append(Damage(offset, len(data) - offset, LEGACY_REST.format(why=why)))
            break
        out.frames.append(frame)
        offset = end
    return out


def _legacy_problem(data: bytes, offset: int) -> str | None:
    if offset + _HEAD.size > len(data):
        return PAST_END
    magic, hlen, plen, crc = _HEAD.unpack_from(data, offset)
    start = offset + _HEAD.size
    end = start + hlen + plen
    if magic != LEGACY_MAGIC:
        return BAD_MARKER
    if end > len(data):
        return PAST_END
    if zlib.crc32(data[start + hlen:end], zlib.crc32(data[start:start + hlen])) != crc:
        return BAD_CRC
    return None


def encode_legacy_frame(table: pa.Table, *, lake_table: str, model: str) -> bytes:
    """A frame as raigov wrote it before frame tags (tests of old spool files)."""
    frame = encode_frame(table, lake_table=lake_table, model=model)
    return (_HEAD.pack(LEGACY_MAGIC, len(frame.header), frame.payload.size, frame.crc)
            + frame.header + frame.payload.to_pybytes())


# -- slots --------------------------------------------------------------------------
class SlotLock:
    """An exclusive, process-lifetime claim on one spool slot directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def wal_files(directory: Path) -> list[Path]:
    """Spool files of one slot, oldest first (names sort by creation time)."""
    return sorted(directory.glob("*.wal"))


