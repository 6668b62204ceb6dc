"""Compaction: a closed day's segments merge into one file, published through the
partition manifest; readers count every row exactly once before, during and after."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from raigov.home import Home
from raigov.models.capture.segments import write_segment
from raigov.store.compaction import compact, lake_stats
from raigov.store.lake import MANIFEST, lake_connection, partition_dir, partition_files
from tests import lake_files

DAY = "2026-03-04"


def _rows(start: int, n: int, day: str = DAY) -> pa.Table:
    base = dt.datetime.fromisoformat(f"{day}T00:00:00+00:00")
    return pa.table({
        "prediction_id": [f"p{start + i}" for i in range(n)],
        "version": pa.array([1] * n, pa.int32()),
        "ts": pa.array([base + dt.timedelta(seconds=start + i) for i in range(n)],
                       pa.timestamp("us", tz="UTC")),
        "label": pa.array([i % 2 for i in range(n)], pa.int64()),
        "x": [float(i) for i in range(n)]})


def _seed(home: Home, segments: int = 5, per: int = 40, day: str = DAY) -> list[str]:
    ids = []
    for s in range(segments):
        table = _rows(s * per, per, day)
        write_segment(home, ("predictions", "m", day), [table], stem=f"20260304T0000{s:02d}-seg")
        ids += table.column("prediction_id").to_pylist()
    return ids


def _hand_count(directory: Path) -> list[str]:
    """Ids in the files a reader should see, read by pyarrow file by file."""
    ids = []
    for path in partition_files(directory):
        ids += lake_files.read_column(path, "prediction_id")
    return ids


def _lake_ids(home: Home) -> list[str]:
    with lake_connection(home, model="m") as con:
        return [r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()]


def test_compaction_merges_a_closed_day_into_one_file(home: Home) -> None:
    ids = _seed(home)
    directory = partition_dir(home, "predictions", "m", DAY)
    assert len(lake_files.parquet_names(directory)) == 5
    result = compact(home, now=dt.datetime(2026, 3, 6, tzinfo=dt.timezone.utc))
    assert (result.partitions, result.files_before, result.files_after, result.rows) == (1, 5, 1, 200)
    assert lake_files.parquet_names(directory) == ["c-000001-0.parquet"]
    merged = lake_files.read_column(directory / "c-000001-0.parquet", "prediction_id")
    assert sorted(merged) == sorted(ids)
    assert sorted(_lake_ids(home)) == sorted(ids)
    manifest = json.loads(lake_files.read_bytes(directory / MANIFEST))
    assert manifest["files"] == ["c-000001-0.parquet"] and len(manifest["replaced"]) == 5


def test_today_is_not_compacted_and_before_limits(home: Home) -> None:
    _seed(home)
    assert compact(home, now=dt.datetime(2026, 3, 4, 12, tzinfo=dt.timezone.utc)).partitions == 0
    assert compact(home, before=dt.date(2026, 3, 4),
                   now=dt.datetime(2026, 3, 9, tzinfo=dt.timezone.utc)).partitions == 0
    assert compact(home, model="other", now=dt.datetime(2026, 3, 9, tzinfo=dt.timezone.utc)).partitions == 0


def test_a_resealed_segment_stays_hidden_and_late_rows_merge_next_time(home: Home) -> None:
    ids = _seed(home)
    now = dt.datetime(2026, 3, 6, tzinfo=dt.timezone.utc)
    compact(home, now=now)
    # A crash between sealing and the spool file's deletion: the same segment is sealed again.
    write_segment(home, ("predictions", "m", DAY), [_rows(0, 40)], stem="20260304T000000-seg")
    assert sorted(_lake_ids(home)) == sorted(ids)
    # A late segment of a new spool file is visible, then merged.
    write_segment(home, ("predictions", "m", DAY), [_rows(1000, 7)], stem="20260305T000000-late")
    late = ids + [f"p{1000 + i}" for i in range(7)]
    assert sorted(_lake_ids(home)) == sorted(late)
    result = compact(home, now=now)
    directory = partition_dir(home, "predictions", "m", DAY)
    assert result.files_after == 1 and len(lake_files.parquet_names(directory)) == 1
    assert sorted(_hand_count(directory)) == sorted(late) == sorted(_lake_ids(home))


def test_a_target_size_splits_into_a_few_files(home: Home) -> None:
    ids = _seed(home, segments=6, per=3000)
    directory = partition_dir(home, "predictions", "m", DAY)
    size = lake_files.total_size(directory)
    result = compact(home, target_bytes=size // 2, now=dt.datetime(2026, 3, 6, tzinfo=dt.timezone.utc))
    assert result.files_after == 2
    assert sorted(_hand_count(directory)) == sorted(ids)


def test_old_files_stay_while_a_reader_reads_then_go(home: Home) -> None:
    ids = _seed(home)
    directory = partition_dir(home, "predictions", "m", DAY)
    now = dt.datetime(2026, 3, 6, tzinfo=dt.timezone.utc)
    with lake_connection(home, model="m") as con:
        compact(home, now=now)
        # The reader listed the five segments before the publish: they are still there.
        assert len(lake_files.parquet_names(directory)) == 6
        assert sorted(r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()) == sorted(ids)
    assert sorted(_lake_ids(home)) == sorted(ids)
    compact(home, now=now)          # nothing to merge; the sweep deletes the replaced files
    assert lake_files.parquet_names(directory) == ["c-000001-0.parquet"]


def test_lake_stats_counts_files_rows_bytes(home: Home) -> None:
    _seed(home)
    [entry] = lake_stats(home)
    directory = partition_dir(home, "predictions", "m", DAY)
    assert (entry["model"], entry["table"], entry["files"], entry["rows"]) == ("m", "predictions", 5, 200)
    assert entry["bytes"] == lake_files.total_size(directory)


@pytest.mark.parametrize("step", ["write", "publish", "delete"])
def test_sigkill_at_each_step_leaves_a_lake_that_reads_right(home: Home, step: str) -> None:
    ids = _seed(home)
    directory = partition_dir(home, "predictions", "m", DAY)
    env = {**os.environ, "RAIGOV_REWRITE_PAUSE_AT": step}
    proc = subprocess.Popen([sys.executable, "-m", "raigov.cli", "lake", "compact",
                             "--home", str(home.root)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if f"raigov-rewrite-step {step}" in line:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert sorted(_lake_ids(home)) == sorted(ids)
    assert sorted(_hand_count(directory)) == sorted(ids)
    compact(home)                    # resumes
    assert sorted(_lake_ids(home)) == sorted(ids)
    assert len(lake_files.parquet_names(directory)) == 1
    assert not [n for n in lake_files.names(directory, ".tmp") if n.startswith(".")]


def test_lake_cli_end_to_end(home: Home) -> None:
    _seed(home)
    run = lambda *a: subprocess.run([sys.executable, "-m", "raigov.cli", *a, "--home", str(home.root)],
                                    capture_output=True, text=True, timeout=120)
    bad = run("lake", "compact", "--before", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    before = json.loads(run("lake", "stats", "--format", "json").stdout)
    assert before[0]["files"] == 5
    done = run("lake", "compact", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"partitions": 1, "files_before": 5, "files_after": 1, "rows": 200}
    table = run("lake", "stats")
    assert table.returncode == 0 and all(len(line) <= 80 for line in table.stdout.splitlines())
    assert "predictions" in table.stdout and " 200 " in table.stdout


def test_the_capture_writer_compacts_closed_days_in_the_background(home: Home) -> None:
    import time

    from raigov.models.capture.writer import CaptureWriter

    ids = _seed(home)                 # 2026-03-04: a closed day
    directory = partition_dir(home, "predictions", "m", DAY)
    with CaptureWriter(home, seal_interval_s=0.2):
        deadline = time.monotonic() + 30
        while len(partition_files(directory)) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [p.name for p in partition_files(directory)] == ["c-000001-0.parquet"]
    assert sorted(_hand_count(directory)) == sorted(ids)


def test_a_reader_that_lets_go_soon_does_not_leave_the_replaced_files_behind(home: Home) -> None:
    import threading
    import time

    from raigov.store.lake import reading

    ids = _seed(home)
    directory = partition_dir(home, "predictions", "m", DAY)
    holding, release = threading.Event(), threading.Event()

    def read_for_a_moment() -> None:
        with reading(home):
            holding.set()
            release.wait(10)
            time.sleep(1.0)        # the sweep's first try meets this reader

    reader = threading.Thread(target=read_for_a_moment)
    reader.start()
    holding.wait(10)
    release.set()
    compact(home, now=dt.datetime(2026, 3, 6, tzinfo=dt.timezone.utc))
    reader.join()
    assert lake_files.parquet_names(directory) == ["c-000001-0.parquet"]
    assert sorted(_lake_ids(home)) == sorted(ids)
