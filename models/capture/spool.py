"""The spool: per-writer write-ahead files of acknowledged rows not yet sealed.

A spool file (``spool/<slot>/<id>.wal``) is a sequence of frames::

    b"RGV1" | header length (u32) | payload length (u32) | crc32 of header+payload (u32)
    | header (JSON: lake table, model) | payload (an Arrow IPC stream of one table)

A frame is appended with one ``write`` and made durable by the group commit's
``fsync``. A crash can leave a torn last frame: :func:`read_frames` returns the valid
prefix and how many bytes it discarded. Each slot is owned by one live process through
an ``flock`` on ``spool/<slot>/LOCK``; the lock dies with the process, so the next
process to start takes over (and seals) whatever a crashed writer left behind.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

MAGIC = b"RGV1"
_HEAD = struct.Struct("<4sIII")


@dataclass(frozen=True)
class Frame:
    lake_table: str
    model: str
    table: pa.Table


def encode_frame(table: pa.Table, *, lake_table: str, model: str) -> bytes:
    header = _header(lake_table, model)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    crc = zlib.crc32(payload, zlib.crc32(header))
    return _HEAD.pack(MAGIC, len(header), len(payload), crc) + header + payload


@functools.lru_cache(maxsize=256)
def _header(lake_table: str, model: str) -> bytes:
    return json.dumps({"table": lake_table, "model": model}).encode()


def read_frames(path: Path) -> tuple[list[Frame], int]:
    """The valid frames of a spool file, and the number of trailing bytes discarded
    (a torn or corrupt tail, written by a process that died mid-frame)."""
    data = path.read_bytes()
    frames: list[Frame] = []
    offset = 0
    for frame, end in _iter_frames(data):
        frames.append(frame)
        offset = end
    return frames, len(data) - offset


def _iter_frames(data: bytes) -> Iterator[tuple[Frame, int]]:
    offset = 0
    while offset + _HEAD.size <= len(data):
        magic, hlen, plen, crc = _HEAD.unpack_from(data, offset)
        start = offset + _HEAD.size
        end = start + hlen + plen
        if magic != MAGIC or end > len(data):
            return
        header, payload = data[start:start + hlen], data[start + hlen:end]
        if zlib.crc32(payload, zlib.crc32(header)) != crc:
            return
        meta = json.loads(header)
        table = pa.ipc.open_stream(payload).read_all()
        yield Frame(meta["table"], meta["model"], table), end
        offset = end


class SlotLock:
    """An exclusive, process-lifetime claim on one spool slot directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
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


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
