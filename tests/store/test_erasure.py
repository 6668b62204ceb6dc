"""Retention and erasure on a real home: erased rows are in no lake, quarantine or spool
file (every file read back, and its bytes scanned), a SIGKILL at each step of the
rewrite leaves each row once or erased, the ledger verifies, explain says it was erased."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raigov.home import Home
from raigov.models.capture.logger import PredictionLogger
from tests import lake_files

MODEL = "credit-risk"
DAY1 = dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def credit():
    from raigov.models.demo_models import build_demo_model

    return build_demo_model(MODEL, seed=0)


@pytest.fixture
def traffic(tmp_path: Path, credit) -> tuple[Home, list[str]]:
    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model

    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", credit.trained)
    register_model(home, credit.spec, artifact=tmp_path / "artifact", reference=credit.reference)
    rows = credit.heldout[list(credit.spec.input_columns)].iloc[:60]
    ids = []
    with PredictionLogger(MODEL, home=home) as log:
        for d in range(3):
            scores = np.linspace(0.05, 0.95, 20)
            ids += log.log_predictions(rows.iloc[d * 20:(d + 1) * 20], labels=(scores >= .5).astype(int),
                                       scores=scores, timestamp=DAY1 + dt.timedelta(days=d)).prediction_ids
        log.log_feedback(ids, [1] * len(ids))
    return home, ids


def _cli(home: Home, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, timeout=180, env=env)


def _everywhere(home: Home, text: str) -> list[str]:
    """Files under the lake (local or on S3) or the spool holding ``text``: raw bytes, and
    every Parquet file (hidden or replaced ones too) read back by pyarrow."""
    files = lake_files.every_file(home)
    assert any(path.endswith(".parquet") for path, _ in files), "no lake file to search"
    files += [(str(path), path.read_bytes()) for path in
              (home.spool.rglob("*") if home.spool.exists() else []) if path.is_file()]
    hits = []
    for path, data in files:
        if text.encode() in data:
            hits.append(path)
        elif path.endswith(".parquet"):
            table = lake_files.read_bytes_table(data)
            if any(text in str(v) for c in table.columns for v in c.to_pylist()):
                hits.append(path)
    return hits


def _visible_ids(home: Home, table: str) -> list[str]:
    from raigov.store.lake import lake_connection
    with lake_connection(home, model=MODEL) as con:
        return [r[0] for r in con.execute(f"SELECT prediction_id FROM {table}").fetchall()]


def test_erase_by_id_end_to_end(traffic) -> None:
    home, ids = traffic
    gone = ids[5]
    done = _cli(home, "erase", "--model", MODEL, "--prediction-id", gone, "--reason",
                "data subject request", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["predictions"] == 1 and json.loads(done.stdout)["feedback"] == 1
    assert _everywhere(home, gone) == []
    assert _everywhere(home, ids[6])            # the search finds a row that stays
    assert sorted(_visible_ids(home, "predictions")) == sorted(i for i in ids if i != gone)
    assert sorted(_visible_ids(home, "feedback")) == sorted(i for i in ids if i != gone)
    explain = _cli(home, "explain", "--model", MODEL, "--prediction-id", gone)
    assert explain.returncode == 2 and "was erased on" in explain.stderr + explain.stdout
    verify = _cli(home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    from raigov.store.catalog import catalog
    with catalog(home, read_only=True) as con:
        kind, payload = con.execute("SELECT kind, payload::VARCHAR FROM ledger ORDER BY seq DESC "
                                    "LIMIT 1").fetchone()
    assert kind == "data.erased" and gone not in payload and '"predictions":1' in payload.replace(" ", "")
    bad = _cli(home, "erase", "--model", MODEL, "--reason", "x")
    assert bad.returncode == 2


def test_erase_where_column_value(traffic, credit) -> None:
    home, ids = traffic
    column = next(c for c in credit.spec.input_columns
                  if credit.heldout[c].iloc[:60].nunique() > 1
                  and str(credit.heldout[c].dtype) in ("object", "string", "category"))
    value = str(credit.heldout[column].iloc[0])
    expected = {i for i, v in zip(ids, credit.heldout[column].iloc[:60].astype(str)) if v == value}
    done = _cli(home, "erase", "--model", MODEL, "--where", f"{column}={value}", "--reason", "test",
                "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["predictions"] == len(expected) > 0
    assert set(_visible_ids(home, "predictions")) == set(ids) - expected
    assert set(_visible_ids(home, "feedback")) == set(ids) - expected
    for gone in expected:
        assert _everywhere(home, gone) == []


@pytest.mark.parametrize("step", ["write", "publish", "delete"])
def test_sigkill_at_each_step_of_the_rewrite(traffic, step: str) -> None:
    home, ids = traffic
    gone = ids[25]
    env = {**os.environ, "RAIGOV_REWRITE_PAUSE_AT": step}
    proc = subprocess.Popen([sys.executable, "-m", "raigov.cli", "erase", "--model", MODEL,
                             "--prediction-id", gone, "--reason", "r", "--home", str(home.root)],
                            env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if f"raigov-rewrite-step {step}" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    for table in ("predictions", "feedback"):
        seen = _visible_ids(home, table)
        assert len(seen) == len(set(seen))                     # nothing twice
        assert set(seen) - {gone} == set(ids) - {gone}          # nothing else lost
    again = _cli(home, "erase", "--model", MODEL, "--prediction-id", gone, "--reason", "r")
    assert again.returncode == 0, again.stderr
    assert _everywhere(home, gone) == []
    assert sorted(_visible_ids(home, "predictions")) == sorted(i for i in ids if i != gone)
    assert _cli(home, "audit", "verify").returncode == 0


def test_retention_removes_expired_partitions(traffic) -> None:
    from raigov.models.erasure import apply_retention
    from raigov.store.lake import partitions

    home, ids = traffic
    now = DAY1 + dt.timedelta(days=401)      # day 1 (2026-05-04) is 401 days old: expired
    removed = apply_retention(home, now=now)
    assert removed == {MODEL: {"predictions": 1}}
    assert [d.name for d in partitions(home, "predictions", MODEL)] == ["date=2026-05-05", "date=2026-05-06"]
    assert sorted(_visible_ids(home, "predictions")) == sorted(ids[20:])
    assert apply_retention(home, now=now) == {}
    done = _cli(home, "retention", "apply")
    assert done.returncode == 0 and "Nothing is past its retention." in done.stdout
    assert _cli(home, "audit", "verify").returncode == 0
