"""Capture faults injected into a real ``raigov serve`` process: a failing seal thread,
a failing commit thread, a commit thread that stops, a flipped byte in a spool file and
a full disk in async mode. In each, no acknowledged row is lost, the fault shows in
``/healthz`` and ``/metrics``, and received = captured + quarantined (rows answered 503
were not acknowledged and are nowhere)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from raigov.home import Home
from raigov.models.capture.spool import scan_spool
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.store.lake import lake_connection
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
PREDICT = f"/v1/models/{MODEL}/predict"
REPO = Path(__file__).parents[2]


def _lake(home: Home, sql: str) -> list[tuple]:
    with lake_connection(home, model=MODEL) as con:
        return con.execute(sql).fetchall()


def _captured(home: Home) -> list[str]:
    ids = [r[0] for r in _lake(home, "SELECT prediction_id FROM predictions")]
    assert len(ids) == len(set(ids)), "no row may be captured twice"
    return sorted(ids)


def _ids(response: httpx.Response) -> list[str]:
    return [p["prediction_id"] for p in response.json()["predictions"]]


def _until(check: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _metric(text: str, name: str, **labels: str) -> float:
    key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if not line.startswith("#") and line.rpartition(" ")[0] == key:
            return float(line.rpartition(" ")[2])
    raise KeyError(key)


def _problems(client: httpx.Client) -> tuple[int, list[str], dict]:
    r = client.get("/healthz")
    return r.status_code, r.json()["problems"], r.json()


def _bad_request(client: httpx.Client, rows: list[dict]) -> int:
    """One request of invalid rows (422, all quarantined); returns the rows sent."""
    r = client.post(PREDICT, json={"rows": [dict(row, age="old") for row in rows]})
    assert r.status_code == 422 and r.json()["quarantined"] == len(rows)
    return len(rows)


def _quarantined(home: Home) -> int:
    return _lake(home, "SELECT count(*) FROM quarantine")[0][0]


def _block_lake(home: Home) -> Path:
    """A real fault for the seal thread: the predictions table's directory is replaced
    by a file, so no segment can be written under it (chmod would not stop root)."""
    table = home.lake_table("predictions")
    aside = table.with_name("predictions.aside")
    table.rename(aside)
    table.write_text("not a directory")
    return aside


def test_a_failing_seal_thread_shows_and_the_rows_wait_in_the_spool(model_home, request_rows) -> None:
    acknowledged: list[str] = []
    args = ("--seal-interval-s", "0.2")
    with ServerProcess.with_key(model_home, free_port(), args) as server, \
            server.client(timeout=10) as client:
        rejected = _bad_request(client, request_rows[:2])
        acknowledged += _ids(client.post(PREDICT, json={"rows": request_rows[:3]}))
        _until(lambda: len(_captured(model_home)) == 3, what="the first rows sealed")
        aside = _block_lake(model_home)
        for i in range(3, 12, 3):
            r = client.post(PREDICT, json={"rows": request_rows[i:i + 3]})
            assert r.status_code == 200, "the rows are durable in the spool: acknowledged"
            acknowledged += _ids(r)
        _until(lambda: _problems(client)[0] == 503, what="/healthz to report the seal")
        _, problems, health = _problems(client)
        assert problems[0].startswith("sealing the spool into the lake fails since")
        assert "NotADirectoryError" in problems[0] and health["capture"]["spool_bytes"] > 0
        text = client.get("/metrics").text
        assert _metric(text, "raigov_capture_thread_errors_total", thread="seal") >= 1
        assert _metric(text, "raigov_capture_thread_up", thread="seal") == 1
        model_home.lake_table("predictions").unlink()
        aside.rename(model_home.lake_table("predictions"))
        _until(lambda: _problems(client)[0] == 200, what="the sealer to recover")
        assert _metric(client.get("/metrics").text, "raigov_spool_bytes") == 0
    assert _captured(model_home) == sorted(acknowledged)
    assert _quarantined(model_home) == rejected


def test_a_failing_commit_answers_503_at_once_and_the_thread_carries_on(model_home, request_rows) -> None:
    """The fault is the kernel's: the server process may not grow a file past one byte
    (RLIMIT_FSIZE, set from outside with prlimit), so each spool write fails with EFBIG."""
    with ServerProcess.with_key(model_home, free_port()) as server, \
            server.client(timeout=10) as client:
        rejected = _bad_request(client, request_rows[:2])
        acknowledged = _ids(client.post(PREDICT, json={"rows": request_rows[:4]}))
        pid = server.process.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))
        try:
            started = time.monotonic()
            refused = [client.post(PREDICT, json={"rows": request_rows[i:i + 2]}) for i in (4, 6)]
            assert time.monotonic() - started < 5
            assert [r.status_code for r in refused] == [503, 503]
            assert "File too large" in refused[0].json()["detail"]
            status, problems, _ = _problems(client)
            assert status == 503 and any(p.startswith("writing the capture spool fails since")
                                         for p in problems)
            text = client.get("/metrics").text
            assert _metric(text, "raigov_capture_failures_total") >= 2
            assert _metric(text, "raigov_capture_thread_errors_total", thread="commit") >= 2
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
        later = client.post(PREDICT, json={"rows": request_rows[8:11]})
        assert later.status_code == 200, "the commit thread survived its errors"
        acknowledged += _ids(later)
        _until(lambda: _problems(client)[0] == 200, what="/healthz to clear")
    assert _captured(model_home) == sorted(acknowledged)   # the two refused: nowhere
    assert _quarantined(model_home) == rejected


def test_a_stopped_commit_thread_fails_requests_within_seconds_and_says_so(
        model_home, request_rows) -> None:
    model_home.settings_path.write_text("plugins: [tests.serving.capture_faults_plugin]\n")
    server = ServerProcess.with_key(model_home, free_port(), env={"PYTHONPATH": str(REPO)})
    with server, server.client(timeout=30) as client:
        acknowledged = _ids(client.post(PREDICT, json={"rows": request_rows[:3]}))
        (model_home.root / "test-faults").mkdir()
        (model_home.root / "test-faults" / "stop-commit").touch()
        started = time.monotonic()
        waited = client.post(PREDICT, json={"rows": request_rows[3:5]})
        assert time.monotonic() - started < 5
        assert waited.status_code == 503
        assert "capture thread 'raigov-commit' stopped" in waited.json()["detail"]
        again = client.post(PREDICT, json={"rows": request_rows[5:7]})
        assert again.status_code == 503
        status, problems, _ = _problems(client)
        assert status == 503 and problems[0].startswith(
            "capture thread 'raigov-commit' stopped: SystemExit")
        text = client.get("/metrics").text
        assert _metric(text, "raigov_capture_thread_up", thread="commit") == 0
        assert _metric(text, "raigov_capture_failures_total") >= 2
    assert _captured(model_home) == sorted(acknowledged)


def test_a_flipped_byte_in_the_middle_of_a_spool_file_loses_only_its_frame(
        model_home, request_rows) -> None:
    with ServerProcess.with_key(model_home, free_port(), ("--seal-interval-s", "3600")) as server, \
            server.client(timeout=10) as client:
        responses = [client.post(PREDICT, json={"rows": request_rows[i:i + 3]})
                     for i in range(0, 15, 3)]
        assert [r.status_code for r in responses] == [200] * 5
        server.kill()                                 # kill -9: the spool stays unsealed
    acknowledged = [i for r in responses for i in _ids(r)]
    [wal] = model_home.spool.glob("slot-*/*.wal")
    frames = scan_spool(wal).frames
    assert [f.table.num_rows for f in frames] == [3] * 5
    start, end = frames[2].span
    lost = frames[2].table.column("prediction_id").to_pylist()
    data = bytearray(wal.read_bytes())
    data[(start + end) // 2] ^= 0x01
    wal.write_bytes(bytes(data))
    with ServerProcess.with_key(model_home, free_port()) as server, \
            server.client(timeout=10) as client:
        status, problems, health = _problems(client)
        assert (status, problems) == (200, [])
        [warning] = health["warnings"]
        assert warning.startswith("1 damaged spool byte ranges") and "CRC mismatch" in warning
        text = client.get("/metrics").text
        assert _metric(text, "raigov_spool_damaged_ranges_total") == 1
        assert _metric(text, "raigov_spool_damaged_bytes_total") == end - start
    assert _captured(model_home) == sorted(set(acknowledged) - set(lost))
    [kept] = model_home.spool_quarantine.glob("*.bin")
    assert kept.read_bytes() == bytes(data[start:end])
    assert "CRC mismatch" in kept.with_suffix(".json").read_text()
    assert len(acknowledged) == len(_captured(model_home)) + len(lost)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def _hammer_until_refused(client: httpx.Client, rows: list[dict]) -> tuple[list[str], int]:
    """Send until the server refuses; the ids acknowledged and the requests refused."""
    acknowledged, refused = [], 0
    for i in range(400):
        r = client.post(PREDICT, json={"rows": rows[i % 50:i % 50 + 4]})
        if r.status_code == 200:
            acknowledged += _ids(r)
        else:
            assert r.status_code == 503 and "spool" in r.json()["detail"]
            refused += 1
            if refused >= 3:
                break
    return acknowledged, refused


@pytest.mark.parametrize("full", ["disk", "cap"])
def test_a_full_spool_in_async_mode_loses_no_acknowledged_row(
        tmp_path, model_home, request_rows, full: str) -> None:
    if full == "disk":
        mount = tmp_path / "small"
        if not _mount_tmpfs(mount, "64m"):
            pytest.skip("mounting a tmpfs needs root; the 'cap' case covers the same path")
        home = Home.resolve(mount / "home")
        shutil.copytree(model_home.root, home.root)
        args = ("--durability", "async", "--seal-interval-s", "0.2")
    else:
        mount, home = None, model_home
        args = ("--durability", "async", "--seal-interval-s", "4", "--spool-cap-bytes", "60000")
    server = ServerProcess.with_key(home, free_port(), args, log_path=tmp_path / "serve.log")
    try:
        with server, server.client(timeout=10) as client:
            rejected = _bad_request(client, request_rows[:2])
            filler = _fill(mount) if mount else None
            acknowledged, refused = _hammer_until_refused(client, request_rows)
            assert refused == 3 and acknowledged
            status, problems, health = _problems(client)
            assert status == 503
            assert any("acknowledged rows wait in memory" in p or
                       "acknowledged batches" in p for p in problems), problems
            text = client.get("/metrics").text
            assert _metric(text, "raigov_capture_failures_total") >= 3
            if filler:
                filler.unlink()                        # space returns
            _until(lambda: _problems(client)[0] == 200, timeout_s=60, what="the spool to drain")
            more = client.post(PREDICT, json={"rows": request_rows[:2]})
            assert more.status_code == 200
            acknowledged += _ids(more)
            assert _metric(client.get("/metrics").text, "raigov_capture_lost_rows_total") == 0
        assert _captured(home) == sorted(acknowledged)
        assert _quarantined(home) == rejected
    finally:
        if mount:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_missing_control_file_keeps_disabled_models_refused_until_a_command_rewrites_it(
        model_home, request_rows) -> None:
    cli = [sys.executable, "-m", "raigov.cli", "models"]
    home = ["--home", str(model_home.root)]
    body = {"rows": request_rows[:2]}
    with ServerProcess.with_key(model_home, free_port()) as server, \
            server.client(timeout=10) as client:
        subprocess.run([*cli, "disable", MODEL, *home, "--reason", "bias under review"], check=True)
        assert client.post(PREDICT, json=body).status_code == 503
        model_home.control_path.unlink()              # lost: a restore, an operator's rm
        refused = client.post(PREDICT, json=body)
        assert refused.status_code == 503 and "bias under review" in refused.json()["detail"]
        status, problems, _ = _problems(client)
        assert status == 503 and problems == [
            f"the kill switch's control file {model_home.control_path} is missing while "
            f"['{MODEL}'] are disabled: they stay refused; any raigov command that opens the "
            "catalog (raigov models list) rewrites it"]
        subprocess.run([*cli, "list", *home], check=True, capture_output=True)
        assert model_home.control_path.exists()
        assert _problems(client)[0] == 200
        assert client.post(PREDICT, json=body).status_code == 503
        subprocess.run([*cli, "enable", MODEL, *home], check=True)
        assert client.post(PREDICT, json=body).status_code == 200
