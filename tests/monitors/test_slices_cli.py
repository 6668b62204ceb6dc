"""The user's path: the income classifier on Adult, its predictions logged and labels
fed back; ``raigov monitor run``, ``raigov monitor show --metric slices.`` and
``raigov policy-check`` (real CLI processes). A window whose errors fall at random
passes a "no weak slice" rule; the same window with one occupation x age band's labels
flipped fails it, and the slice is listed first."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raigov.home import Home
from raigov.models.capture.logger import PredictionLogger
from raigov.models.spec import SlicesConfig

pytestmark = pytest.mark.slow
MODEL = "income-classifier"
ROOT = Path(__file__).parents[2]
ROWS = 6000
DAY = dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc)
POLICY = """\
policy: no-weak-slices
version: 1
applies_to: {models: [income-classifier]}
rules:
  - id: no-weak-slice
    metric: slices.count_significant
    op: "<="
    threshold: 0
    severity: warning
"""


def cli(home: Home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from raigov.models.artifact import save_artifact
    from raigov.models.demo_models import build_demo_model, predicted_columns

    income = build_demo_model(MODEL, seed=0)
    artifact = tmp_path_factory.mktemp("artifact")
    save_artifact(artifact, income.trained)
    rows = income.heldout.iloc[:ROWS].reset_index(drop=True)
    outputs = predicted_columns(income.definition.trainer, income.trained, rows, income.spec)
    return income, artifact, rows, outputs


def _home(root: Path, demo, *, planted: bool) -> tuple[Home, str]:
    from raigov.models.registry import register_model

    income, artifact, rows, outputs = demo
    home = Home.resolve(root / "home").ensure()
    # errors at random are a null for the error rate only (FPR and FNR still follow
    # each slice's mix of predicted classes), so the model asks for that rate
    monitoring = income.spec.monitoring.model_copy(
        update={"slices": SlicesConfig(rates=("error_rate",))})
    spec = income.spec.model_copy(update={"monitoring": monitoring})
    register_model(home, spec, artifact=artifact, reference=income.reference)
    label = np.asarray(outputs["label"]).astype(int)
    rng = np.random.default_rng(3)
    truth = np.where(rng.random(ROWS) < 0.15, 1 - label, label)   # errors at random
    low, high = np.quantile(income.reference["age"], [0.5, 0.75])
    inside = ((rows["occupation"] == "Exec-managerial") & (rows["age"] >= low)
              & (rows["age"] < high)).fillna(False).to_numpy(dtype=bool)
    if planted:
        truth = np.where(inside, 1 - label, truth)
    with PredictionLogger(MODEL, home=home) as log:
        ids = log.log_predictions(rows[list(income.spec.input_columns)], labels=label,
                                  scores=np.asarray(outputs["score"]),
                                  timestamp=DAY).prediction_ids
        log.log_feedback(ids, truth.tolist())
    (root / "policy.yaml").write_text(POLICY)
    return home, f"age=[{low:g},{high:g})&occupation=Exec-managerial"


@pytest.mark.parametrize("planted", [False, True])
def test_a_rule_on_weak_slices_fails_on_a_planted_slice_and_passes_without(
        tmp_path: Path, demo, planted: bool) -> None:
    home, expected = _home(tmp_path, demo, planted=planted)
    ran = cli(home, "monitor", "run", "--model", MODEL)
    assert ran.returncode == 0, ran.stderr
    shown = cli(home, "monitor", "show", "--model", MODEL, "--metric", "slices.",
                "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["rows"]
    count = next(r for r in rows if r["metric"] == "slices.count_significant")
    worst = sorted((r for r in rows if r["metric"] == "slices.worst"),
                   key=lambda r: r["details"]["rank"])
    table = cli(home, "monitor", "show", "--model", MODEL, "--metric", "slices.")
    assert table.returncode == 0 and max(map(len, table.stdout.splitlines())) <= 80
    checked = cli(home, "policy-check", "--policy", str(tmp_path / "policy.yaml"),
                  "--model", MODEL, "--format", "json")
    if planted:
        assert count["value"] >= 1 and worst[0]["segment"] == expected
        assert worst[0]["details"]["p_adjusted"] < 0.05
        assert checked.returncode == 1, checked.stdout + checked.stderr
    else:
        assert count["value"] == 0 and worst == [] and count["n"] > 100
        assert checked.returncode == 0, checked.stdout + checked.stderr
