"""`raigov monitor run` under fire, through the real CLI on a real home: two runs at
once, a run SIGKILLed inside a window's catalog unit, a model another run holds,
parallel workers, and `--every` stopped by SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from raigov.durable import held_lock, lock_holder
from raigov.home import Home
from raigov.monitors.runner import monitor_lock_path

RAIGOV = [sys.executable, "-m", "raigov.cli"]
EVENT_KINDS = ("finding.recorded", "policy.evaluated", "alert.opened", "alert.auto_resolved")


def uncomputed(seeded: Home, target: Path) -> Home:
    """A copy of the seeded home whose windows were never computed nor judged (the
    ledger keeps its earlier events; counts below are of what a run adds)."""
    shutil.copytree(seeded.root, target)
    con = duckdb.connect(str(target / "catalog.duckdb"))
    for table in ("metric_rows", "monitor_windows", "findings", "alert_events", "alerts",
                  "lake_scan_state"):   # discovery forgets which partitions were settled
        con.execute(f"DELETE FROM {table}")
    con.close()
    return Home.resolve(target)


def ledger_head(home: Home) -> int:
    con = duckdb.connect(str(home.catalog_path), read_only=True)
    try:
        return con.execute("SELECT coalesce(max(seq), 0) FROM ledger").fetchone()[0]
    finally:
        con.close()


def state(home: Home, since_seq: int) -> dict:
    """What the runs left, counted straight from the catalog file."""
    con = duckdb.connect(str(home.catalog_path), read_only=True)
    try:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        events = Counter(kind for (kind,) in con.execute(
            "SELECT kind FROM ledger WHERE seq > ?", [since_seq]).fetchall())
        return {
            "windows": one("SELECT count(*) FROM monitor_windows"),
            "metric_rows": one("SELECT count(*) FROM metric_rows"),
            "findings": one("SELECT count(*) FROM findings"),
            "duplicate_findings": one(
                "SELECT count(*) FROM (SELECT model, version, window_start, policy, rule_id, "
                "segment FROM findings GROUP BY ALL HAVING count(*) > 1)"),
            "alerts": one("SELECT count(*) FROM alerts"),
            "open_alerts": one("SELECT count(*) FROM alerts WHERE status = 'open'"),
            "alert_events": one("SELECT count(*) FROM alert_events"),
            "events": {k: events.get(k, 0) for k in EVENT_KINDS},
        }
    finally:
        con.close()


def monitor(home: Home, *args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([*RAIGOV, "monitor", "run", "--home", str(home.root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, **kw)


def finish(proc: subprocess.Popen, timeout: float = 480) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def baseline(seeded_home_template: Home, tmp_path_factory) -> dict:
    """One uninterrupted run on a copy: what every other scenario must end equal to."""
    home = uncomputed(seeded_home_template, tmp_path_factory.mktemp("baseline") / "home")
    head = ledger_head(home)
    rc, out, err = finish(monitor(home))
    assert rc == 0, err
    counted = state(home, head)
    assert counted["windows"] == 16 and counted["findings"] > 0 and counted["alerts"] > 0
    assert counted["duplicate_findings"] == 0
    return counted


@pytest.mark.slow
def test_two_concurrent_runs_duplicate_no_finding_alert_or_ledger_event(
        seeded_home_template: Home, tmp_path: Path, baseline: dict) -> None:
    home = uncomputed(seeded_home_template, tmp_path / "home")
    head = ledger_head(home)
    first, second = monitor(home, "--wait"), monitor(home, "--wait")
    results = [finish(first), finish(second)]
    assert [rc for rc, _, _ in results] == [0, 0], [err for _, _, err in results]
    computed = sorted(int(out.split(" window(s)")[0].split()[-1]) for _, out, _ in results)
    assert sum(computed) == 16, "each window is computed by exactly one of the two runs"
    assert state(home, head) == baseline


@pytest.mark.slow
def test_a_run_killed_between_a_windows_metrics_and_findings_is_completed_by_the_next(
        seeded_home_template: Home, tmp_path: Path, baseline: dict) -> None:
    home = uncomputed(seeded_home_template, tmp_path / "home")
    head = ledger_head(home)
    marker = tmp_path / "paused"
    proc = monitor(home, env={"RAIGOV_TEST_PAUSE_AFTER_METRICS": f"3:{marker}"})
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached its third window"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)   # inside window 3's unit: rows written, findings not
    proc.wait(timeout=30)
    killed = state(home, head)
    assert killed["windows"] == 2, "the killed window's rows and mark were never committed"
    assert killed["findings"] < baseline["findings"]
    assert lock_holder(monitor_lock_path(home, "credit-risk")) is None, "SIGKILL freed the lock"
    rc, out, err = finish(monitor(home))
    assert rc == 0, err
    assert out.startswith("14 window(s) computed"), out
    assert state(home, head) == baseline


@pytest.mark.slow
def test_a_model_another_run_holds_is_skipped_with_a_message(
        seeded_home_template: Home, tmp_path: Path) -> None:
    home = uncomputed(seeded_home_template, tmp_path / "home")
    with held_lock(monitor_lock_path(home, "credit-risk"), wait=False,
                   holder="pid 1 since then (test)") as held:
        assert held
        rc, out, err = finish(monitor(home))
    assert rc == 0, err
    assert ("model 'credit-risk' skipped: another monitor run holds its lock "
            "(pid 1 since then (test)); pass --wait") in out
    assert out.splitlines()[-1].startswith("12 window(s) computed"), out
    con = duckdb.connect(str(home.catalog_path), read_only=True)
    models = {m for (m,) in con.execute("SELECT DISTINCT model FROM monitor_windows").fetchall()}
    con.close()
    assert "credit-risk" not in models and len(models) == 3


@pytest.mark.slow
def test_jobs_compute_in_workers_the_same_rows_as_one_process(
        seeded_home_template: Home, tmp_path: Path) -> None:
    home = uncomputed(seeded_home_template, tmp_path / "home")
    serial = uncomputed(seeded_home_template, tmp_path / "serial")
    rc, out, err = finish(monitor(home, "--jobs", "2", "--model", "credit-risk"))
    assert rc == 0, err
    assert out.startswith("4 window(s) computed"), out
    assert finish(monitor(serial, "--model", "credit-risk"))[0] == 0

    def values(h: Home) -> tuple:
        con = duckdb.connect(str(h.catalog_path), read_only=True)
        rows = con.execute("SELECT model, window_start, metric, segment, value, n, status "
                           "FROM metric_rows WHERE family <> 'explain' "
                           "ORDER BY ALL").fetchall()
        findings = con.execute("SELECT window_start, policy, rule_id, segment, status "
                               "FROM findings ORDER BY ALL").fetchall()
        con.close()
        return rows, findings
    assert values(home) == values(serial)
    assert len(values(home)[0]) > 0 and len(values(home)[1]) > 0


@pytest.mark.slow
def test_every_runs_again_and_sigterm_exits_0_with_the_lock_free(
        seeded_home_template: Home, tmp_path: Path) -> None:
    home = uncomputed(seeded_home_template, tmp_path / "home")
    proc = monitor(home, "--every", "1s", "--model", "credit-risk")
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while sum(line.endswith("] run") for line in lines) < 2:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, lines
        lines.append(line.rstrip("\n"))
    assert any(line.startswith("4 window(s) computed") for line in lines), lines
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc, timeout=120)
    assert rc == 0, err
    tail = lines + out.splitlines()
    assert tail[-1] == "Stopped on SIGTERM: locks released."
    assert any(line.startswith("0 window(s) computed") for line in tail), tail
    assert lock_holder(monitor_lock_path(home, "credit-risk")) is None
    with held_lock(monitor_lock_path(home, "credit-risk"), wait=False) as held:
        assert held, "the next run can take the lock"


def test_an_interval_without_a_unit_it_knows_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([*RAIGOV, "monitor", "run", "--home", str(tmp_path / "h"),
                           "--every", "15x"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "'15x' is not an interval" in proc.stderr


def test_a_home_that_does_not_exist_is_refused_not_created(tmp_path: Path) -> None:
    """A typo in --home names no home: monitor run and show say so (exit 2, the path
    named) and leave nothing behind, rather than create an empty home and find nothing."""
    typo = tmp_path / "hoem"
    for args in (["run"], ["show", "--model", "income-classifier"]):
        proc = subprocess.run([*RAIGOV, "monitor", *args, "--home", str(typo)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert f"no raigov home at {typo}" in proc.stderr
        assert "catalog.duckdb does not exist" in proc.stderr
        assert not typo.exists()


def test_no_family_errors_on_any_window_of_the_seeded_fleet(seeded_home_template: Home) -> None:
    """Every family computes on every demo model (binary, regression, multiclass): a
    crash shows as a ``monitor.error`` row, and there must be none (the multiclass
    model's explanations once failed on its reference's probability arrays)."""
    from raigov.monitors.store import read_metric_rows

    rows = read_metric_rows(seeded_home_template)
    assert set(rows["model"]) >= {"income-classifier", "job-sector", "hours-estimator"}
    errors = rows[rows["metric"] == "monitor.error"]
    assert errors.empty, errors[["model", "segment"]].drop_duplicates().to_string()
    explained = rows[rows["metric"].str.startswith("explain.")]
    assert set(explained["model"]) >= {"job-sector", "income-classifier"}
