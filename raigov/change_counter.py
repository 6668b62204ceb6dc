"""A change counter that a reader checks without a system call: an 8-byte file that
writers add one to, in place, after each change they publish, and that readers map
into memory (``mmap``, shared), so checking it is a memory read.

Why: ``raigov serve`` must see a revoked key at its very next request. A ``stat`` per
request does that, but every system call releases Python's GIL, and on a busy server
the event loop may then wait for a model or capture thread to hand it back (py-spy on
a loaded server: the event loop sat on that ``stat`` without the GIL in ~1.5% of its
samples). A mapped counter gives the same "at once" without a system call.

The file is only ever written in place (never replaced, truncated or removed), so a
mapping stays valid; a reader still checks once a second that the path names the file
it mapped (remapping after a restore or a deletion), and falls back to its own check
when the file cannot be mapped. The counter says only that something changed; the
reader rereads the real file (the snapshot) and judges that.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

COUNTER_BYTES = 8


def bump_counter(path: Path) -> int:
    """Add one to the counter in ``path`` (made, mode 0600, when missing); return it.
    Callers serialise their bumps (the key snapshot's lock)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        current = os.pread(fd, COUNTER_BYTES, 0)
        value = (int.from_bytes(current, "little") + 1 if len(current) == COUNTER_BYTES
                 else 1) % (1 << 64)
        os.pwrite(fd, value.to_bytes(COUNTER_BYTES, "little"), 0)
    finally:
        os.close(fd)
    return value


class CounterMap:
    """A read-only mapping of a counter file (none when it is missing or short)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._identity: tuple[int, int] | None = None
        self.remap()

    def read(self) -> bytes | None:
        """The counter's bytes (a memory read), or None when the file is not mapped."""
        return None if self._map is None else self._map[:COUNTER_BYTES]

    def remap(self) -> None:
        """Map the file the path names now, if it is not the one mapped (a no-op, one
        ``stat``, when it is)."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._close()
            return
        if (st.st_dev, st.st_ino) == self._identity and self._map is not None:
            return
        self._close()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            st = os.fstat(fd)
            if st.st_size >= COUNTER_BYTES:
                self._map = mmap.mmap(fd, COUNTER_BYTES, access=mmap.ACCESS_READ)
                self._identity = (st.st_dev, st.st_ino)
        finally:
            os.close(fd)

    def _close(self) -> None:
        if self._map is not None:
            self._map.close()
        self._map, self._identity = None, None
