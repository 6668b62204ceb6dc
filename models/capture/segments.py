"""Sealing: a spool file becomes immutable Parquet segments in the lake.

Rows are grouped by lake table, model and UTC date of their event time; each group is
written to ``lake/<table>/model=<M>/date=<D>/<wal id>.parquet`` through a temporary
file, ``fsync`` and ``rename``. The segment name derives only from the spool file's
name, so sealing the same spool file twice (after a crash between the rename and the
spool file's deletion) rewrites identical files under the same names: recovery is
idempotent and never duplicates a row. Byte ranges of the spool file that hold no valid
frame are kept in the home's spool quarantine (:mod:`raigov.models.capture.damaged`)
before the spool file goes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from raigov.durable import fsync_directory
from raigov.home import Home
from raigov.models.capture.damaged import QuarantinedBytes, keep_damaged
from raigov.models.capture.spool import Frame, scan_spool
from raigov.store.lake import partition_dir, write_parquet
from raigov.store.lake_fs import fs_of
from raigov.store.parquet_crypto import segment_encryption

# Which column gives a row its partition date, per lake table.
DATE_COLUMN = {"predictions": "ts", "feedback": "received_at", "quarantine": "received_at"}


@dataclass
class Sealed:
    segments: list[Path] = field(default_factory=list)
    damaged: list[QuarantinedBytes] = field(default_factory=list)
    rows: int = 0


def seal_wal(home: Home, wal: Path) -> Sealed:
    """Seal one spool file into the lake, keep its damaged bytes, and delete it."""
    from raigov.store.parquet_crypto import load_data_key

    scan = scan_spool(wal, data_key=load_data_key(home))
    written = [write_segment(home, key, tables, stem=segment_stem(wal))
               for key, tables in sorted(_group(scan.frames).items())]
    kept = keep_damaged(home, wal, scan.damaged)
    wal.unlink(missing_ok=True)
    fsync_directory(wal.parent)
    return Sealed(written, kept, sum(f.table.num_rows for f in scan.frames))


def segment_stem(wal: Path) -> str:
    """The name a spool file's segments (and kept damaged bytes) take: its creation time
    and the first 8 hex digits of its key, never the whole key."""
    return wal.stem[:29]


def _group(frames: list[Frame]) -> dict[tuple[str, str, str], list[pa.Table]]:
    """Rows by (lake table, model, day). The frames of one table and model are joined
    first (without copying), so the day is computed once per group, not per frame."""
    by_source: dict[tuple[str, str], list[pa.Table]] = defaultdict(list)
    for frame in frames:
        by_source[(frame.lake_table, frame.model)].append(frame.table)
    groups: dict[tuple[str, str, str], list[pa.Table]] = defaultdict(list)
    for (lake_table, model), tables in by_source.items():
        table = pa.concat_tables(tables, promote_options="permissive")
        days = pc.strftime(table.column(DATE_COLUMN[lake_table]), format="%Y-%m-%d")
        distinct = pc.unique(days).to_pylist()
        for day in distinct:
            rows = table if len(distinct) == 1 else table.filter(pc.equal(days, day))
            groups[(lake_table, model, day)].append(rows)
    return groups


def check_capture_key(home: Home) -> None:
    """Refuse to start capture when a registered model encrypts its segments and no
    data key is set (sealing would fail later, with rows stuck in the spool)."""
    from raigov.store.parquet_crypto import require_data_key

    models = [d.name for d in sorted(home.artifacts.glob("*")) if d.is_dir()]
    encrypting = [m for m in models if segment_encryption(home, "predictions", m) is not None]
    if encrypting:
        require_data_key(home, what=f"Capture for {', '.join(encrypting)} (privacy section)")


def write_segment(home: Home, key: tuple[str, str, str], tables: list[pa.Table], *,
                  stem: str) -> Path:
    lake_table, model, day = key
    directory = partition_dir(home, lake_table, model, day)
    fs_of(directory).make_dirs(directory.parent, directory)   # model=<M>/ and date=<D>/
    table = pa.concat_tables(tables, promote_options="permissive")
    return write_parquet(table, directory / f"{stem}.parquet", home=home)
