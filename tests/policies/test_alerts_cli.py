"""`raigov alerts` and `raigov doctor` through the real CLI on a real home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from raigov.durable import held_lock
from raigov.home import Home
from raigov.users import add_user
import datetime as dt

from raigov.policies.findings import Finding
from raigov.policies.record_findings import record_findings

DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def finding(status: str, day: int, *, rule_id: str = "four-fifths-sex",
            segment: str = "sex=Female", model: str = "income",
            severity: str = "critical") -> Finding:
    start = DAY0 + dt.timedelta(days=day)
    observed = 0.7 if status == "fail" else 0.9
    return Finding(
        policy="lending-fairness", policy_version=3, policy_sha256="ab" * 32, rule_id=rule_id,
        metric="fairness.selection_rate_ratio", segment=segment, model=model, version=1,
        window_start=start, window_end=start + dt.timedelta(days=1), status=status,
        severity=severity, reason=f"selection_rate_ratio {observed} vs >= 0.8",
        observed=observed, judged=observed, op=">=", threshold=0.8, n=500,
        groups={"Female": {"value": 0.2, "n": 200}, "Male": {"value": 0.3, "n": 300}},
        references=("EEOC 29 CFR 1607.4(D)",),
        waiver={"reason": "backlog", "approved_by": "risk"} if status == "waived" else None)


def record(home: Home, *findings: Finding, actor: str = "monitor", **kw) -> object:
    return record_findings(home, list(findings), actor=actor, run_id="run-1",
                              notify_webhook=False, **kw)



RAIGOV = [sys.executable, "-m", "raigov.cli"]


def cli(home: Home, *args: str, user: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "RAIGOV_USER"}, **(env or {})}
    if user:
        env["RAIGOV_USER"] = user
    return subprocess.run([*RAIGOV, *args, "--home", str(home.root)], capture_output=True,
                          text=True, env={**env, "COLUMNS": "80"}, timeout=120)


def events(home: Home, kind: str) -> list[tuple[str, str, dict]]:
    con = duckdb.connect(str(home.catalog_path), read_only=True)
    rows = con.execute("SELECT actor, subject, payload::VARCHAR FROM ledger WHERE kind = ? "
                       "ORDER BY seq", [kind]).fetchall()
    con.close()
    return [(a, s, json.loads(p)) for a, s, p in rows]


@pytest.fixture
def alerting(home: Home) -> tuple[Home, str, str]:
    add_user(home, "olga", role="owner", password=None, actor="test")
    add_user(home, "vic", role="viewer", password=None, actor="test")
    [critical] = record(home, finding("fail", 0)).opened
    [warning] = record(home, finding("fail", 0, rule_id="other", severity="warning",
                                      model="credit")).opened
    return home, critical, warning


def test_alerts_are_listed_filtered_in_80_columns_and_as_json(alerting) -> None:
    home, critical, warning = alerting
    table = cli(home, "alerts", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[-1] == "2 alert(s)"
    assert any(line.startswith(critical[:8]) and "critical" in line for line in lines)
    only = json.loads(cli(home, "alerts", "list", "--severity", "warning", "--format",
                          "json").stdout)
    assert [(a["alert_id"], a["model"], a["status"]) for a in only] == [(warning, "credit", "open")]
    bad = cli(home, "alerts", "list", "--status", "opn")
    assert bad.returncode == 2 and "Unknown alert status 'opn'" in bad.stderr


def test_ack_and_resolve_act_as_a_named_user_recorded_in_the_ledger(alerting) -> None:
    home, critical, _ = alerting
    ack = cli(home, "alerts", "ack", critical[:13], "--comment", "looking", "--as", "olga")
    assert ack.returncode == 0, ack.stderr
    assert f"acknowledged alert {critical}" in ack.stdout and "now acknowledged" in ack.stdout
    done = cli(home, "alerts", "resolve", critical, "--comment", "retrained", user="olga")
    assert done.returncode == 0, done.stderr
    [(actor, subject, payload)] = events(home, "alert.acknowledged")
    assert (actor, subject, payload["comment"]) == ("olga", critical, "looking")
    [(actor, subject, payload)] = events(home, "alert.resolved")
    assert (actor, payload["from"], payload["to"], payload["comment"]) == (
        "olga", "acknowledged", "resolved", "retrained")


def test_the_cli_refuses_an_actor_without_the_role_or_without_a_name(alerting) -> None:
    home, critical, _ = alerting
    denied = cli(home, "alerts", "ack", critical, "--as", "vic")
    assert denied.returncode == 1
    assert "vic (role viewer) may not acknowledge alerts" in denied.stderr
    nobody = cli(home, "alerts", "ack", critical)
    assert nobody.returncode == 2 and "--as USER or set $RAIGOV_USER" in nobody.stderr
    stranger = cli(home, "alerts", "resolve", critical, "--comment", "x", "--as", "mallory")
    assert stranger.returncode != 0 and "mallory" in stranger.stderr
    no_comment = cli(home, "alerts", "resolve", critical, "--as", "olga")
    assert no_comment.returncode == 2 and "--comment" in no_comment.stderr
    assert events(home, "alert.acknowledged") == [] and events(home, "alert.resolved") == []


def test_doctor_passes_a_healthy_home_and_names_each_check(alerting) -> None:
    home, _, _ = alerting
    os.chmod(home.catalog_path, 0o600)
    result = cli(home, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line[5:].split(":")[0] for line in result.stdout.splitlines()]
    assert names == ["permissions", "catalog", "spool backlog", "unsealed files", "lock holders",
                     "disk space", "ledger checkpoint"]
    assert all(line.startswith("ok ") for line in result.stdout.splitlines()), result.stdout


def test_doctor_fails_on_open_secrets_a_stray_lake_file_and_names_a_lock_holder(
        alerting) -> None:
    home, _, _ = alerting
    os.chmod(home.keys, 0o755)
    stray = home.lake_table("predictions") / "model=credit" / "date=2026-03-01" / ".x.parquet.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half")
    lock = home.root / "locks" / "monitor-credit.lock"
    with held_lock(lock, wait=False, holder="pid 42 since now (raigov monitor run)"):
        result = cli(home, "doctor")
    assert result.returncode == 1
    lines = {line[5:].split(":")[0]: line for line in result.stdout.splitlines()}
    assert lines["permissions"].startswith("FAIL") and "keys (755)" in lines["permissions"]
    assert lines["unsealed files"].startswith("FAIL") and "1 half-written" in lines["unsealed files"]
    assert "monitor-credit: pid 42 since now" in lines["lock holders"]


def test_doctor_checks_the_catalog_file_and_lake_the_urls_name(alerting, tmp_path) -> None:
    """With RAIGOV_CATALOG_URL and RAIGOV_LAKE_URL naming paths outside the home, doctor
    checks those (the file's mode, the lake's stray files), named by absolute path."""
    import shutil

    home, _, _ = alerting
    catalog_file = tmp_path / "elsewhere" / "catalog.duckdb"
    catalog_file.parent.mkdir()
    shutil.copy(home.catalog_path, catalog_file)
    os.chmod(catalog_file, 0o644)
    lake = tmp_path / "lake"
    stray = lake / "predictions" / "model=credit" / "date=2026-03-01" / ".y.parquet.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half")
    env = {"RAIGOV_CATALOG_URL": f"duckdb://{catalog_file}", "RAIGOV_LAKE_URL": str(lake)}
    result = cli(home, "doctor", env=env)
    lines = {line[5:].split(":")[0]: line for line in result.stdout.splitlines()}
    assert lines["permissions"].startswith("warn") and f"{catalog_file} (644)" in \
        lines["permissions"], result.stdout
    assert lines["unsealed files"].startswith("FAIL") and str(stray) in lines["unsealed files"]
    os.chmod(catalog_file, 0o600)
    lines = {line[5:].split(":")[0]: line
             for line in cli(home, "doctor", env=env).stdout.splitlines()}
    assert lines["permissions"].startswith("ok") and "catalog file owner-only" in \
        lines["permissions"]
