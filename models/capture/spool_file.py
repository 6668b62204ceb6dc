"""The open spool file of one writer's slot: frames appended with one ``write`` and one
``fsync`` per commit, rolled to a new file when the sealer asks.

A commit that fails part-way is cut off the file again (``ftruncate``), so the file
holds only whole commits; if even that fails, the file is left as it is (its valid
frames are sealed, the rest kept as damaged bytes) and the next commit opens a new one.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

from raigov.durable import fsync_directory
from raigov.errors import SpoolFullError
from raigov.models.capture.health import describe
from raigov.models.capture.spool import EncodedFrame, SlotLock, new_spool_name, wal_files

SPOOL_FULL = ("The capture spool at {path} cannot take {size} more bytes ({why}). "
              "Rows were not acknowledged; free disk space or raise the spool cap.")


class SpoolFile:
    def __init__(self, slot: SlotLock, *, cap_bytes: int | None = None) -> None:
        self.slot = slot
        self.cap_bytes = cap_bytes
        self.lock = threading.Lock()
        self.path: Path | None = None
        self.offset = 0
        self.opened = time.monotonic()
        self._fd: int | None = None
        self._key = b""

    @property
    def directory(self) -> Path:
        return self.slot.directory

    def open(self) -> None:
        """Start a new spool file (its name carries its frame key)."""
        name, key = new_spool_name()
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fsync_directory(self.directory)
        except OSError:
            os.close(fd)
            raise
        self._fd, self.path, self._key = fd, path, key
        self.offset, self.opened = 0, time.monotonic()

    def append(self, frames: list[EncodedFrame]) -> None:
        """Write ``frames`` and fsync them, or raise :class:`SpoolFullError` with the
        reason, leaving the file as it was."""
        with self.lock:
            if self._fd is None:
                self.open()
            data = b"".join(p for f in frames for p in f.pieces(self._key))
            self._write(data)

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        if self.cap_bytes is not None and self.spool_bytes() + len(data) > self.cap_bytes:
            raise SpoolFullError(SPOOL_FULL.format(path=self.directory, size=len(data),
                                                   why=f"cap of {self.cap_bytes} bytes"))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as exc:
            self._drop_partial()
            why = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else describe(exc)
            raise SpoolFullError(SPOOL_FULL.format(path=self.directory, size=len(data),
                                                   why=why)) from exc
        self.offset += len(data)

    def _drop_partial(self) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self.offset)
            os.lseek(self._fd, self.offset, os.SEEK_SET)
        except OSError:
            os.close(self._fd)
            self._fd, self.path = None, None

    def roll(self) -> Path | None:
        """Start a new file and close the old one, returned for sealing (None when the
        current one is empty). If the new one cannot be opened, the old one stays in use
        and the error is raised."""
        with self.lock:
            if self.offset == 0 or self._fd is None:
                return None
            old, old_fd = self.path, self._fd
            self.open()
            os.close(old_fd)
            return old

    def close(self) -> None:
        with self.lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self.path is not None and self.offset == 0:
                self.path.unlink(missing_ok=True)

    def spool_bytes(self) -> int:
        """Bytes in this slot's spool files (sealed files are deleted)."""
        total = 0
        for path in wal_files(self.directory):
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass  # sealed meanwhile
        return total
