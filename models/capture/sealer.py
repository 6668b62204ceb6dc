"""Sealing spool files into the lake for one writer, and recovering the slots crashed
writers left: one seal at a time, each counted (segments, damaged bytes kept)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from raigov.home import Home
from raigov.models.capture.health import log
from raigov.models.capture.segments import Sealed, seal_wal
from raigov.models.capture.spool import SlotLock, wal_files


class Sealer:
    def __init__(self, home: Home, stats) -> None:
        self.home = home
        self.stats = stats          # the writer's CaptureStats
        self._lock = threading.Lock()

    def seal(self, wal: Path) -> Sealed:
        age = time.time() - int(wal.name.split("-")[0]) / 1e9
        with self._lock:
            if not wal.exists():
                return Sealed()
            sealed = seal_wal(self.home, wal)
        self._count(sealed)
        self.stats.last_seal_lag_s = age
        return sealed

    def seal_all(self, directory: Path, *, but: Path | None = None) -> None:
        """Every spool file of ``directory`` older than ``but`` (the one being written).

        Older, not merely other: another thread may roll the spool between reading
        ``but`` and listing the directory, and the file it opens then (which exists
        before the spool names it) must never be sealed and deleted while rows are
        appended to it. Spool names begin with their creation time in nanoseconds,
        zero-padded, so a file opened meanwhile sorts after ``but``."""
        for wal in wal_files(directory):
            if but is None or wal.name < but.name:
                self.seal(wal)

    def recover(self) -> int:
        """Seal what crashed writers left in slots nobody holds. Returns files sealed."""
        sealed = 0
        for directory in sorted(p for p in self.home.spool.glob("slot-*") if p.is_dir()):
            slot = SlotLock(directory)
            if not slot.try_acquire():
                continue   # a live writer owns it
            try:
                for wal in wal_files(directory):
                    self._count(seal_wal(self.home, wal))
                    sealed += 1
                    self.stats.recovered_files += 1
            finally:
                slot.release()
        return sealed

    def _count(self, sealed: Sealed) -> None:
        self.stats.sealed_segments += len(sealed.segments)
        for kept in sealed.damaged:
            self.stats.damaged_ranges += 1
            self.stats.damaged_bytes += kept.length
            self.stats.last_damage = kept
            log.error("damaged spool bytes kept in %s: %s", kept.path, kept.reason)


def wait_until_sealed(home: Home, *, wait_s: float = 15.0, poll_s: float = 0.2) -> list[Path]:
    """Make every row acknowledged before this call readable in the lake: seal what
    crashed writers left, then wait (up to ``wait_s``) until each spool file a live
    writer holds now is sealed (they seal every second, ``--seal-interval-s``).
    Returns the spool files still waiting at the deadline (their rows count later)."""
    from raigov.models.capture.committer import CaptureStats

    if not home.spool.exists():
        return []
    Sealer(home, CaptureStats()).recover()
    pending = sorted(home.spool.glob("slot-*/*.wal"))
    deadline = time.monotonic() + wait_s
    while pending and time.monotonic() < deadline:
        time.sleep(poll_s)
        pending = [wal for wal in pending if wal.exists()]
    return pending
