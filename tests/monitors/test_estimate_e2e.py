"""The user's path: a model served by a real ``raigov serve`` process, traffic over
HTTP and no label ever sent; ``raigov monitor run`` then ``raigov monitor show --format
json`` (real CLI subprocesses) give the label-free ``estimate.*`` rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.isotonic import IsotonicRegression

from raigov.home import Home
from raigov.models.registry import get_model
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.store.lake import lake_connection

pytestmark = pytest.mark.slow
MODEL = "credit-risk"
ROOT = Path(__file__).parents[2]


def cli(home: Home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


@pytest.fixture
def served_home(tmp_path: Path) -> Home:
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model
    from raigov.models.registry import register_model

    credit = build_demo_model(MODEL, seed=0)
    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", credit.trained)
    register_model(home, credit.spec, artifact=tmp_path / "artifact", reference=credit.reference)
    frame = credit.heldout[list(credit.spec.input_columns)]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    with ServerProcess.with_key(home, free_port()) as server, server.client() as client:
        for start in range(0, len(rows), 50):
            done = client.post(f"/v1/models/{MODEL}/predict", json={"rows": rows[start:start + 50]})
            assert done.status_code == 200, done.text
    return home


def test_monitor_run_estimates_performance_without_labels(served_home: Home) -> None:
    ran = cli(served_home, "monitor", "run", "--model", MODEL)
    assert ran.returncode == 0, ran.stderr
    shown = cli(served_home, "monitor", "show", "--model", MODEL, "--format", "json",
                "--metric", "estimate.")
    assert shown.returncode == 0, shown.stderr
    rows = {(r["metric"], r["segment"]): r for r in json.loads(shown.stdout)["rows"]}
    spec = get_model(served_home, MODEL).spec
    with lake_connection(served_home, model=MODEL) as con:
        served = con.execute("SELECT * FROM labelled").df()
    assert served["y_true"].isna().all()                       # no label has arrived
    assert not any(metric.startswith("estimate.error.") for metric, _ in rows)
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        row = rows[(f"estimate.{metric}", "all")]
        assert row["status"] == "ok" and row["n"] == len(served)
        assert 0 <= row["ci_low"] < row["value"] < row["ci_high"] <= 1
    for column in spec.sensitive:
        for group in served[column].dropna().astype(str).unique():
            assert (f"estimate.true_positive_rate", f"{column}={group}") in rows
            assert (f"estimate.false_positive_rate", f"{column}={group}") in rows
    # the estimated accuracy, recomputed independently from the served scores and the
    # reference (calibrated or not, by whichever ECE is lower is NannyML's rule: check
    # that the figure is one of the two honest candidates)
    reference = get_model(served_home, MODEL).load_reference()
    reference = reference[reference["y_true"].notna()]
    iso = IsotonicRegression(out_of_bounds="clip").fit(reference["score"], reference["y_true"])
    pos = served["label"].to_numpy() == 1
    candidates = []
    for p in (served["score"].to_numpy(), iso.predict(served["score"].to_numpy())):
        candidates.append((p[pos].sum() + (1 - p[~pos]).sum()) / len(p))
    value = rows[("estimate.accuracy", "all")]["value"]
    assert min(abs(value - c) for c in candidates) < 1e-9
