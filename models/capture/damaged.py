"""Damaged spool bytes, kept: every byte range of a spool file that holds no valid frame
(see :func:`raigov.models.capture.spool.scan_spool`) is copied, before the spool file
is deleted, to ``<home>/spool-quarantine/<segment stem>.<offset>.bin`` with a JSON
file beside it (``.json``: the spool file, offset, length, SHA-256 and the reason).
raigov never deletes them: they are evidence of what the disk held. The names derive
from the spool file and the offset only, so sealing the same spool file again (after
a crash) rewrites the same files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from raigov.durable import write_durably
from raigov.home import Home
from raigov.models.capture.spool import Damage


@dataclass(frozen=True)
class QuarantinedBytes:
    path: Path          # the .bin file
    spool_file: str
    offset: int
    length: int
    reason: str


def keep_damaged(home: Home, wal: Path, damaged: list[Damage]) -> list[QuarantinedBytes]:
    """Copy each damaged range of ``wal`` into the home's spool quarantine, durably."""
    if not damaged:
        return []
    directory = home.spool_quarantine
    directory.mkdir(parents=True, exist_ok=True)
    kept = []
    with open(wal, "rb") as source:
        for damage in damaged:
            source.seek(damage.offset)
            data = source.read(damage.length)
            stem = f"{wal.stem[:29]}.{damage.offset:012d}"
            meta = {"spool_file": wal.name, "offset": damage.offset, "length": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(), "reason": damage.reason}
            write_durably(directory / f"{stem}.bin", data)
            write_durably(directory / f"{stem}.json",
                          json.dumps(meta, indent=1, sort_keys=True).encode())
            kept.append(QuarantinedBytes(directory / f"{stem}.bin", wal.name[:29], damage.offset,
                                         len(data), damage.reason))
    return kept
