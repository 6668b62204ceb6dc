"""Change stamps of lake partitions, from one ``stat`` of the partition's directory.

Every change to what a partition shows goes through a directory entry: a segment is
renamed into place, a manifest is replaced by a rename, a superseded file is unlinked.
Each moves the directory's mtime, so a directory whose mtime has not moved holds the
files it held, and a run need not list them again (a year of partitions is then a
stat each, not a manifest read, a listing and a stat per file).

One caveat: the kernel stamps times from a coarse clock (ticks of a few ms), so two
changes within one tick leave one mtime. A stamp is therefore given only for a
directory whose mtime is at least :data:`SETTLED_S` seconds old; a fresher one gets
None, and the caller lists its files as before.

:class:`CompactionState` keeps, per model directory of a lake table, the stamp each
closed partition had when compaction last found nothing to do in it
(``.compaction.json``, a cache: lost or damaged, every partition is checked again).
:class:`FingerprintCache` keeps, the same way, each settled partition's fingerprint
with the stamp it was computed at (``.fingerprints.json``): the fingerprint itself is
always the one a listing gives, so a cached and a listed one never differ.
:class:`NoStamps` stands in for both where directories have no mtime (object storage).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

SETTLED_S = 2.0
STATE_FILE = ".compaction.json"
FINGERPRINT_FILE = ".fingerprints.json"


def settled_stamp(directory: Path, *, now: float | None = None) -> str | None:
    """The mtime of ``directory`` (ns) when it is settled, else None (also
    for a directory that is gone)."""
    try:
        stat = os.stat(directory)
    except FileNotFoundError:
        return None
    if (time.time() if now is None else now) - stat.st_mtime < SETTLED_S:
        return None
    return str(stat.st_mtime_ns)   # kept by a copy (copytree, rsync -t), as it should be


class CompactionState:
    """The stamps of one model directory's partitions that need no compaction."""

    def __init__(self, model_dir: Path) -> None:
        self.path = model_dir / STATE_FILE
        try:
            loaded = json.loads(self.path.read_text())
            self.stamps: dict[str, str] = {str(k): str(v) for k, v in loaded.items()}
        except (FileNotFoundError, ValueError, AttributeError):
            self.stamps = {}
        self.changed = False

    def unchanged(self, directory: Path, *, now: float) -> bool:
        stamp = settled_stamp(directory, now=now)
        return stamp is not None and self.stamps.get(directory.name) == stamp

    def remember(self, directory: Path, *, now: float) -> None:
        """Record ``directory`` as needing nothing (when its stamp is settled)."""
        stamp = settled_stamp(directory, now=now)
        if stamp is not None and self.stamps.get(directory.name) != stamp:
            self.stamps[directory.name] = stamp
            self.changed = True

    def save(self) -> None:
        if not self.changed or not self.path.parent.is_dir():
            return
        tmp = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.stamps, sort_keys=True))
        os.replace(tmp, self.path)
        self.changed = False


class NoStamps:
    """The caches of a lake whose directories carry no change stamps (object
    storage): nothing is remembered, every partition is listed."""

    changed = False

    def unchanged(self, directory, *, now: float) -> bool:
        return False

    def remember(self, directory, *, now: float) -> None:
        return None

    def get(self, directory, stamp: str | None) -> str | None:
        return None

    def put(self, directory, stamp: str | None, fingerprint: str) -> None:
        return None

    def save(self) -> None:
        return None


class FingerprintCache:
    """Fingerprints of one model directory's settled partitions, by stamp."""

    def __init__(self, model_dir: Path) -> None:
        self.path = model_dir / FINGERPRINT_FILE
        try:
            loaded = json.loads(self.path.read_text())
            self.entries: dict[str, list[str]] = {
                str(k): [str(v[0]), str(v[1])] for k, v in loaded.items()}
        except (FileNotFoundError, ValueError, AttributeError, TypeError, IndexError,
                KeyError):
            self.entries = {}
        self.changed = False

    def get(self, directory: Path, stamp: str | None) -> str | None:
        entry = self.entries.get(directory.name)
        return entry[1] if stamp is not None and entry and entry[0] == stamp else None

    def put(self, directory: Path, stamp: str | None, fingerprint: str) -> None:
        if stamp is not None and self.entries.get(directory.name) != [stamp, fingerprint]:
            self.entries[directory.name] = [stamp, fingerprint]
            self.changed = True

    def save(self) -> None:
        """Write the cache (a read-only home keeps none)."""
        if not self.changed or not self.path.parent.is_dir():
            return
        tmp = self.path.with_name(f".{FINGERPRINT_FILE}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.entries, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            return
        self.changed = False
