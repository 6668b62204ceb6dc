"""The capture writer under faults: a failing commit, a full spool in async mode, a
failing seal, and threads that stop. Each fault is recorded and reported, no waiting
caller hangs, and no acknowledged row is lost."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from raigov.errors import CaptureError, SpoolFullError
from raigov.home import Home
from raigov.models.capture.writer import CaptureWriter
from raigov.store.lake import lake_connection
from tests.serving.capture_fixtures import batch, small_spec

SPEC = small_spec()


def _lake_ids(home: Home) -> list[str]:
    with lake_connection(home, model=SPEC.name) as con:
        return sorted(r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall())


def _send(writer: CaptureWriter, rows: int, seed: int):
    table, ids = batch(SPEC, rows, seed=seed)
    return writer.submit(table, lake_table="predictions", model=SPEC.name), ids


def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """A real fault for this process's writes: files may not grow past ``limit`` bytes
    (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_failed_commit_fails_its_request_is_recorded_and_the_next_commit_works(home: Home) -> None:
    with CaptureWriter(home, seal_interval_s=3600) as writer:
        first, first_ids = _send(writer, 10, 0)
        first.result(timeout=5)
        with _file_size_limit(writer.spool_bytes() + 100):
            failed, _ = _send(writer, 200, 1)
            with pytest.raises(SpoolFullError, match="File too large"):
                failed.result(timeout=5)
        commit = writer.health["commit"]
        assert (commit.errors, commit.failing) == (1, True) and "Errno 27" in commit.last_error
        assert writer.problems()[0].startswith("writing the capture spool fails since")
        later, later_ids = _send(writer, 10, 2)
        later.result(timeout=5)
        assert writer.problems() == [] and writer.stats.failed_batches == 1
    assert _lake_ids(home) == sorted(first_ids + later_ids)


def test_async_keeps_acknowledged_batches_while_the_spool_is_full_and_refuses_new_ones(
        home: Home) -> None:
    with CaptureWriter(home, durability="async", seal_interval_s=3600,
                       spool_cap_bytes=60_000) as writer:
        first, first_ids = _send(writer, 300, 0)
        first.result(timeout=5)
        _until(lambda: writer.stats.commits == 1)
        kept, kept_ids = _send(writer, 300, 1)          # acknowledged, does not fit now
        kept.result(timeout=5)
        _until(lambda: writer.backlog_batches() == 1)
        refused, _ = _send(writer, 5, 2)
        with pytest.raises(SpoolFullError, match="acknowledged rows wait in memory"):
            refused.result(timeout=5)
        [problem] = writer.problems()
        assert "1 acknowledged batches (300 rows) wait in memory" in problem
        writer.flush()                                  # sealing frees the spool
        _until(lambda: writer.backlog_batches() == 0)
        assert writer.problems() == []
        later, later_ids = _send(writer, 5, 3)
        later.result(timeout=5)
        stats = writer.stats
    assert (stats.failed_batches, stats.refused_batches, stats.lost_rows) == (1, 1, 0)
    assert _lake_ids(home) == sorted(first_ids + kept_ids + later_ids)


def _stop_commits(writer: CaptureWriter) -> None:
    """From now on the commit thread stops for good at its next commit (a
    ``BaseException``, as a plugin calling ``sys.exit`` there would raise)."""
    def stop(batches):
        raise SystemExit("commit thread told to stop")
    writer._committer._commit = stop


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_a_stopped_commit_thread_fails_every_waiting_caller_and_says_so(
        home: Home, durability: str) -> None:
    writer = CaptureWriter(home, durability=durability, seal_interval_s=3600).start()
    first, first_ids = _send(writer, 10, 0)
    first.result(timeout=5)
    _until(lambda: writer.stats.commits == 1)
    _stop_commits(writer)
    waiting, _ = _send(writer, 10, 1)
    started = time.monotonic()
    if durability == "sync":
        with pytest.raises(CaptureError, match="capture thread 'raigov-commit' stopped"):
            waiting.result(timeout=5)
        assert time.monotonic() - started < 2
    _until(lambda: not writer._threads[0].is_alive())
    refused, _ = _send(writer, 10, 2)
    with pytest.raises(CaptureError, match="SystemExit: commit thread told to stop"):
        refused.result(timeout=1)
    problems = writer.problems()
    assert problems[0].startswith("capture thread 'raigov-commit' stopped: SystemExit")
    if durability == "async":     # acknowledged and never written: said, never silent
        assert writer.stats.lost_rows == 10 and "10 acknowledged rows" in problems[-1]
    writer.close()
    assert _lake_ids(home) == sorted(first_ids)


def _block_lake(home: Home) -> Path:
    """A real fault for sealing: the predictions table's directory is replaced by a
    file, so no segment can be written under it (root is not stopped by chmod)."""
    table = home.lake_table("predictions")
    aside = table.with_name("predictions.aside")
    table.rename(aside)
    table.write_text("not a directory")
    return aside


def _unblock_lake(home: Home, aside: Path) -> None:
    home.lake_table("predictions").unlink()
    aside.rename(home.lake_table("predictions"))


def test_a_failing_seal_is_retried_until_the_lake_takes_the_rows(home: Home) -> None:
    with CaptureWriter(home, seal_interval_s=0.1) as writer:
        aside = _block_lake(home)
        done, ids = _send(writer, 20, 0)
        done.result(timeout=5)
        _until(lambda: writer.health["seal"].errors >= 2)
        [problem] = writer.problems()
        assert problem.startswith("sealing the spool into the lake fails since")
        assert "acknowledged rows stay in the spool" in problem
        assert writer.spool_bytes() > 0
        _unblock_lake(home, aside)
        _until(lambda: not writer.health["seal"].failing, timeout_s=40)
        assert writer.problems() == [] and writer.spool_bytes() == 0
    assert _lake_ids(home) == sorted(ids)


class _StoppingSealer(CaptureWriter):
    def _seal_tick(self):
        raise KeyboardInterrupt("seal thread told to stop")


def test_a_stopped_seal_thread_is_reported_and_the_next_start_seals_its_rows(home: Home) -> None:
    writer = _StoppingSealer(home, seal_interval_s=0.05).start()
    done, ids = _send(writer, 20, 0)
    done.result(timeout=5)
    _until(lambda: not writer._threads[1].is_alive())
    [problem] = writer.problems()
    assert problem.startswith("capture thread 'raigov-seal' stopped: KeyboardInterrupt")
    writer._slot.release()                  # the process dies here: its slot is free
    assert _lake_ids(home) == []
    CaptureWriter(home).start().close()
    assert _lake_ids(home) == sorted(ids)
