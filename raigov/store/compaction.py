"""Compaction and crash-safe rewrites of lake partitions.

A rewrite of one partition (compaction merges its files; an erasure drops rows) runs:

1. write each new file under a temporary name, fsync, rename it to ``c-<gen>-<i>.parquet``
   (readers ignore a ``c-`` file no manifest lists);
2. publish: replace ``_manifest.json`` atomically (temporary file, fsync, rename, directory
   fsync) with the new generation, listing the new files as visible and the old ones as
   replaced; this rename is the one moment the partition changes for a reader;
3. delete the superseded files, only while no reader holds the shared reader lock (else a
   later rewrite or compaction deletes them).

A SIGKILL before step 2 leaves unlisted ``c-`` files (deleted by the next rewrite); after
it, files the manifest hides. Either way every row is counted exactly once. Rewrites of
the lake are serialised by ``lake/.rewrite.lock``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from raigov.durable import exclusive_lock
from raigov.home import LAKE_TABLES, Home
from raigov.store.lake_fs import fs_of, lake_fs
from raigov.store.partition_stamps import CompactionState, NoStamps
from raigov.store.lake import (MANIFEST, PUBLISHED_PREFIX, no_readers, partition_day,
                               partition_files, partitions, read_manifest, read_parquet_table,
                               write_parquet)

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
REWRITE_LOCK = ".rewrite.lock"
# How long a sweep waits for a moment with no reader before leaving the deletion to
# the next rewrite (found by the soak benchmark: with labels checked against the lake
# and a dashboard reading, one try at a time left superseded files behind).
SWEEP_PATIENCE_S = 2.0
# A step hook for tests: called with the step name before each step of a rewrite.
_STEP_ENV = "RAIGOV_REWRITE_PAUSE_AT"


@dataclass
class Compacted:
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    deleted: int = 0
    skipped_busy: int = 0
    details: list[dict] = field(default_factory=list)


@contextmanager
def rewriting(home: Home) -> Iterator[None]:
    with exclusive_lock(lake_fs(home).lock_dir / REWRITE_LOCK):
        yield


def _step(name: str) -> None:
    """Test hook: when RAIGOV_REWRITE_PAUSE_AT names this step, announce it on stderr and
    wait (the test SIGKILLs the process there)."""
    if os.environ.get(_STEP_ENV) == name:
        import sys
        import time
        print(f"raigov-rewrite-step {name}", file=sys.stderr, flush=True)
        time.sleep(3600)


def _doomed(directory: Path) -> list[Path]:
    """What the manifest no longer shows: replaced segments, unlisted ``c-`` files."""
    manifest = read_manifest(directory)
    listed, replaced = set(manifest["files"]), set(manifest["replaced"])
    names = fs_of(directory).names(directory)
    return [directory / n for n in names
            if (n.endswith(".parquet") and (n in replaced or (n.startswith(PUBLISHED_PREFIX)
                                                             and n not in listed)))
            or (n.startswith(".") and n.endswith(".parquet.tmp")
                and n.removeprefix(".").startswith(PUBLISHED_PREFIX))]


def sweep(home: Home, directory: Path, *, wait: bool = False) -> int:
    """Delete what the manifest no longer shows (replaced segments, unlisted ``c-``
    files) when no reader holds the reader lock. Call under :func:`rewriting`."""
    doomed = _doomed(directory)
    if not doomed:
        return 0
    with no_readers(home, wait=wait, patience_s=SWEEP_PATIENCE_S) as held:
        if not held:
            return 0
        fs = fs_of(directory)
        for path in doomed:
            fs.delete(path)
    return len(doomed)


def publish(home: Home, directory: Path, tables: list[pa.Table], replaced: list[Path], *,
            reason: str, extra: dict | None = None, sweep_wait: bool = False,
            sweep_after: bool = True) -> list[Path]:
    """Replace ``replaced`` (visible files of ``directory``) by ``tables`` atomically.
    Call under :func:`rewriting`. Returns the new files."""
    manifest = read_manifest(directory)
    generation = manifest["generation"] + 1
    new_files = []
    for i, table in enumerate(tables):
        _step("write")
        new_files.append(write_parquet(
            table, directory / f"{PUBLISHED_PREFIX}{generation:06d}-{i}.parquet", home=home))
    gone = {p.name for p in replaced}
    files = [n for n in manifest["files"] if n not in gone] + [p.name for p in new_files]
    replaced_names = sorted(set(manifest["replaced"])
                            | {n for n in gone if not n.startswith(PUBLISHED_PREFIX)})
    body = {"generation": generation, "files": files, "replaced": replaced_names,
            "reason": reason,
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    body.update(extra or {})
    _step("publish")
    fs_of(directory).write_bytes(directory / MANIFEST, json.dumps(body, indent=1).encode())
    _step("delete")
    if sweep_after:
        sweep(home, directory, wait=sweep_wait)
    return new_files


def _split(table: pa.Table, source_bytes: int, target_bytes: int) -> list[pa.Table]:
    if table.num_rows == 0:
        return []
    pieces = max(1, -(-source_bytes // max(1, target_bytes)))
    per = -(-table.num_rows // pieces)
    return [table.slice(i, per) for i in range(0, table.num_rows, per)]


def compact_partition(home: Home, directory: Path, *,
                      target_bytes: int = DEFAULT_TARGET_BYTES) -> dict | None:
    """Merge one partition's small files into files of about ``target_bytes``.
    Call under :func:`rewriting`. None when there was nothing to merge."""
    fs = fs_of(directory)
    files = partition_files(directory)
    sizes = {p: fs.size(p) for p in files}
    small = [p for p in files if sizes[p] < target_bytes // 2]
    if len(small) < 2:
        sweep(home, directory)
        return None
    size = sum(sizes[p] for p in small)
    table = read_parquet_table(small, home=home)
    new = publish(home, directory, _split(table, size, target_bytes), small, reason="compaction")
    return {"partition": str(directory.relative_to(fs.root)), "files_before": len(files),
            "files_after": len(files) - len(small) + len(new), "rows": table.num_rows}


def closed_partitions(home: Home, *, model: str | None = None, before: dt.date | None = None,
                      now: dt.datetime | None = None) -> list[Path]:
    """Partitions of closed days (before today UTC, or before ``before``)."""
    today = (now or dt.datetime.now(dt.timezone.utc)).date()
    limit = min(before, today) if before else today
    out = []
    for table in LAKE_TABLES:
        out += partitions(home, table, model, until=limit - dt.timedelta(days=1))
    return out


def compact(home: Home, *, model: str | None = None, before: dt.date | None = None,
            target_bytes: int = DEFAULT_TARGET_BYTES, now: dt.datetime | None = None,
            progress: Callable[[int, int, str], None] | None = None) -> Compacted:
    """Compact every closed day's partitions (of one model when given)."""
    import time

    result = Compacted()
    fs = lake_fs(home)
    if not fs.exists():
        return result
    with rewriting(home):
        clock = time.time()
        states: dict[Path, CompactionState] = {}
        todo = []
        for directory in closed_partitions(home, model=model, before=before, now=now):
            if directory.parent not in states:        # one state file per model directory
                states[directory.parent] = (CompactionState(directory.parent) if fs.stamped
                                            else NoStamps())
            state = states[directory.parent]
            if not state.unchanged(directory, now=clock):   # one stat, not a listing
                todo.append(directory)
        for i, directory in enumerate(todo):
            if progress:
                progress(i, len(todo), str(directory.relative_to(fs.root)))
            done = compact_partition(home, directory, target_bytes=target_bytes)
            if not done and not _doomed(directory):   # nothing to merge or delete there
                states[directory.parent].remember(directory, now=clock)
            if done:
                result.partitions += 1
                result.files_before += done["files_before"]
                result.files_after += done["files_after"]
                result.rows += done["rows"]
                result.details.append(done)
        if progress:
            progress(len(todo), len(todo), "")
        for state in states.values():
            state.save()
    return result


def lake_stats(home: Home) -> list[dict]:
    """Files, rows and bytes per model and table (visible files only)."""
    import duckdb

    from raigov.store.lake import count_rows, reading
    from urllib.parse import unquote

    fs = lake_fs(home)
    rows: dict[tuple[str, str], dict] = {}
    with reading(home):
        con = duckdb.connect(":memory:")
        try:
            for table in LAKE_TABLES:
                for directory in partitions(home, table):
                    model = unquote(directory.parent.name.removeprefix("model="))
                    entry = rows.setdefault((model, table), {
                        "model": model, "table": table, "partitions": 0, "files": 0,
                        "rows": 0, "bytes": 0, "first_day": None, "last_day": None})
                    files = partition_files(directory)
                    if not files:
                        continue
                    day = partition_day(directory).isoformat()
                    entry["partitions"] += 1
                    entry["files"] += len(files)
                    entry["bytes"] += sum(fs.size(p) for p in files)
                    entry["rows"] += count_rows(files, con=con, home=home)
                    entry["first_day"] = min(entry["first_day"] or day, day)
                    entry["last_day"] = max(entry["last_day"] or day, day)
        finally:
            con.close()
    return [rows[k] for k in sorted(rows)]
