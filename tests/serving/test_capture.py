"""The capture writer: spool, group commit, sealing, recovery, and a full spool."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from raigov.models.capture.writer import CaptureWriter
from raigov.models.capture.segments import seal_wal
from raigov.models.capture.spool import read_frames, wal_files
from raigov.errors import SpoolFullError
from raigov.home import Home
from raigov.store.lake import lake_connection
from tests.serving.capture_fixtures import batch, small_spec


def _lake_ids(home: Home, model: str) -> list[str]:
    with lake_connection(home, model=model) as con:
        return [r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall()]


def test_acknowledged_rows_are_sealed_into_the_lake_exactly_once(home: Home) -> None:
    spec = small_spec()
    sent: list[str] = []
    with CaptureWriter(home) as writer:
        for i in range(20):
            table, ids = batch(spec, 50, seed=i)
            writer.append(table, lake_table="predictions", model=spec.name)
            sent += ids
    found = _lake_ids(home, spec.name)
    assert sorted(found) == sorted(sent)
    assert len(found) == len(set(found)) == 1000


def test_concurrent_appends_share_fsyncs_through_group_commit(home: Home) -> None:
    spec = small_spec()
    with CaptureWriter(home, group_window_s=0.005) as writer:
        def send(i: int) -> list[str]:
            table, ids = batch(spec, 10, seed=i)
            writer.append(table, lake_table="predictions", model=spec.name)
            return ids
        with ThreadPoolExecutor(8) as pool:
            sent = [i for ids in pool.map(send, range(200)) for i in ids]
        stats = writer.stats
    assert stats.batches == 200
    assert stats.commits < stats.batches, "batches waiting together share one fsync"
    assert sorted(_lake_ids(home, spec.name)) == sorted(sent)


def test_tables_submitted_in_one_turn_of_an_event_loop_share_one_commit(
        home: Home) -> None:
    spec = small_spec()
    tables = [batch(spec, 10, seed=i) for i in range(12)]

    async def send(writer: CaptureWriter) -> list[bool]:
        futures = [writer.submit_async(t, lake_table="predictions", model=spec.name)
                   for t, _ in tables]
        await asyncio.gather(*futures)
        return [f.done() for f in futures]

    with CaptureWriter(home, seal_interval_s=3600) as writer:
        done = asyncio.run(send(writer))
        stats = writer.stats
        frames, torn = read_frames(wal_files(writer._slot.directory)[0])
    assert done == [True] * 12 and stats.commits == 1 and stats.batches == 12
    assert stats.rows == 120 and torn == 0
    assert [f.table.column("prediction_id").to_pylist() for f in frames] == [ids for _, ids in tables]
    assert sorted(_lake_ids(home, spec.name)) == sorted(i for _, ids in tables for i in ids)


def test_a_full_spool_fails_every_request_of_an_event_loop_turn(home: Home) -> None:
    spec = small_spec()

    async def send(writer: CaptureWriter) -> list[object]:
        futures = [writer.submit_async(batch(spec, 1000, seed=i)[0], lake_table="predictions",
                                       model=spec.name) for i in range(3)]
        return await asyncio.gather(*futures, return_exceptions=True)

    with CaptureWriter(home, seal_interval_s=3600, spool_cap_bytes=20_000) as writer:
        results = asyncio.run(send(writer))
    assert [type(r) for r in results] == [SpoolFullError] * 3
    assert _lake_ids(home, spec.name) == []


def test_rows_partition_by_the_event_date_and_escape_the_model_name(home: Home) -> None:
    spec = small_spec("<img src=x onerror=alert(1)>")
    with CaptureWriter(home) as writer:
        for day in ("2026-03-01", "2026-03-02"):
            writer.append(batch(spec, 5, ts=f"{day}T23:59:59Z")[0], lake_table="predictions",
                          model=spec.name)
    with lake_connection(home, model=spec.name) as con:
        rows = con.execute("SELECT model, date::VARCHAR, count(*) FROM predictions "
                           "GROUP BY ALL ORDER BY 2").fetchall()
    assert rows == [(spec.name, "2026-03-01", 5), (spec.name, "2026-03-02", 5)]


def test_a_torn_last_frame_is_discarded_and_the_rest_recovered(home: Home, tmp_path: Path) -> None:
    spec = small_spec()
    writer = CaptureWriter(home, seal_interval_s=3600).start()
    first, ids = batch(spec, 7)
    writer.append(first, lake_table="predictions", model=spec.name)
    wal = wal_files(writer._slot.directory)[-1]
    with open(wal, "ab") as f:        # a crash in the middle of the next frame's write
        f.write(b"RGV1\x10\x00\x00\x00garbage")
    frames, torn = read_frames(wal)
    assert [f.table.num_rows for f in frames] == [7] and torn == 15
    seal_wal(home, wal)
    assert sorted(_lake_ids(home, spec.name)) == sorted(ids)


def test_sealing_the_same_spool_file_twice_does_not_duplicate_rows(home: Home) -> None:
    spec = small_spec()
    writer = CaptureWriter(home, seal_interval_s=3600).start()
    table, ids = batch(spec, 11)
    writer.append(table, lake_table="predictions", model=spec.name)
    wal = wal_files(writer._slot.directory)[-1]
    copy = wal.read_bytes()
    seal_wal(home, wal)
    wal.write_bytes(copy)             # crash after the rename, before the spool file went
    seal_wal(home, wal)
    assert sorted(_lake_ids(home, spec.name)) == sorted(ids)


def test_a_killed_writer_leaves_its_spool_to_the_next_writer(home: Home) -> None:
    code = textwrap.dedent(f"""
        import os, signal
        from raigov.home import Home
        from raigov.models.capture.writer import CaptureWriter
        from tests.serving.capture_fixtures import batch, small_spec
        spec = small_spec()
        w = CaptureWriter(Home.resolve({str(home.root)!r}), seal_interval_s=3600).start()
        table, ids = batch(spec, 25)
        w.append(table, lake_table="predictions", model=spec.name)
        print(",".join(ids), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2])
    acknowledged = proc.stdout.strip().split(",")
    assert proc.returncode == -9 and len(acknowledged) == 25
    assert _lake_ids(home, "tiny") == []          # nothing sealed before the crash
    CaptureWriter(home).start().close()           # the next process recovers the slot
    assert sorted(_lake_ids(home, "tiny")) == sorted(acknowledged)


def test_a_spool_cap_refuses_new_rows_and_keeps_the_acknowledged_ones(home: Home) -> None:
    spec = small_spec()
    first, ids = batch(spec, 20)
    with CaptureWriter(home, seal_interval_s=3600, spool_cap_bytes=40_000) as writer:
        writer.append(first, lake_table="predictions", model=spec.name)
        with pytest.raises(SpoolFullError, match="cap of 40000 bytes"):
            writer.append(batch(spec, 2000, seed=1)[0], lake_table="predictions", model=spec.name)
        writer.flush()                 # sealing frees the spool: capture resumes
        later, later_ids = batch(spec, 20, seed=2)
        writer.append(later, lake_table="predictions", model=spec.name)
    assert sorted(_lake_ids(home, spec.name)) == sorted(ids + later_ids)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_a_full_disk_is_reported_and_capture_resumes_when_space_returns(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    if not _mount_tmpfs(mount, "512k"):
        pytest.skip("mounting a tmpfs needs root; the spool-cap test covers the same path")
    try:
        home = Home.resolve(mount / "home").ensure()
        spec = small_spec()
        filler = mount / "filler"
        writer = CaptureWriter(home, seal_interval_s=3600).start()
        first, ids = batch(spec, 20)
        writer.append(first, lake_table="predictions", model=spec.name)
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)   # fill the disk
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        with pytest.raises(SpoolFullError, match="disk full"):
            writer.append(batch(spec, 500, seed=1)[0], lake_table="predictions", model=spec.name)
        filler.unlink()                 # space returns
        later, later_ids = batch(spec, 20, seed=2)
        writer.append(later, lake_table="predictions", model=spec.name)
        writer.close()
        assert sorted(_lake_ids(home, spec.name)) == sorted(ids + later_ids)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_the_python_logger_captures_valid_rows_and_quarantines_the_rest(model_home, request_rows) -> None:
    from raigov.models.capture.logger import PredictionLogger

    rows = [dict(r) for r in request_rows[:4]]
    rows[2]["age"] = "unknown"
    with PredictionLogger("credit-risk", home=model_home) as log:
        result = log.log_predictions(rows, labels=[1, 0, 1, 1], scores=[.9, .2, .8, .7])
        log.log_feedback([result.prediction_ids[0]], [1])
    assert result.quarantined == 1 and result.prediction_ids[2] is None
    with lake_connection(model_home, model="credit-risk") as con:
        captured = con.execute("SELECT prediction_id, label, score, y_true FROM labelled "
                               "ORDER BY score DESC").fetchall()
        quarantined = con.execute("SELECT row_index, reason FROM quarantine").fetchall()
    assert [c[0] for c in captured] == [result.prediction_ids[i] for i in (0, 3, 1)]
    assert captured[0][1:] == (1, 0.9, 1)
    assert quarantined == [(2, "field 'age' must be int, got str")]


def test_event_times_with_nanoseconds_are_kept_to_the_microsecond(home: Home) -> None:
    spec = small_spec()
    table, ids = batch(spec, 3, ts="2026-03-02T12:00:00.123456789+02:00")
    assert table.column("ts").to_pylist()[0].isoformat() == "2026-03-02T10:00:00.123456+00:00"
