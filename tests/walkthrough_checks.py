"""Independent checks of what the README walkthrough produced: the served predictions
recomputed with the exported program itself (torch, not raigov), and the figures
`raigov monitor show` prints recomputed with scikit-learn and fairlearn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml


def _program_predictions(workdir: Path, rows: pd.DataFrame) -> np.ndarray:
    import torch

    spec = yaml.safe_load((workdir / "hours.yaml").read_text())
    columns = {c["name"]: c for c in spec["inputs"]["columns"]}
    matrix = np.column_stack([
        rows[f].map({v: i for i, v in enumerate(columns[f]["allowed"])}).astype(float)
        if columns[f].get("allowed") else rows[f].astype(float) for f in spec["features"]])
    program = torch.export.load(str(workdir / "hours.pt2")).module()
    with torch.no_grad():
        return program(torch.tensor(matrix, dtype=torch.float32)).numpy()[:, 0].astype(float)


def _shown_rows(workdir: Path, python: Path) -> list[dict]:
    env = {**os.environ, "RAIGOV_HOME": str(workdir / "raigov-home")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "-m", "raigov.cli", "monitor", "show", "--model",
                           "hours-estimator", "--format", "json"], cwd=workdir, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["rows"]


def check_walkthrough_results(workdir: Path, outputs: list[str], *,
                              python: Path | None = None) -> None:
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import mean_absolute_error, r2_score

    rows = pd.read_parquet(workdir / "hours.parquet").head(200)
    truth = rows["hours_per_week"].to_numpy(float)
    predicted = _program_predictions(workdir, rows)
    shown = {(r["metric"], r["segment"]): r for r in _shown_rows(workdir, python or Path(sys.executable))}
    assert shown[("performance.mae", "all")]["value"] == pytest.approx(
        mean_absolute_error(truth, predicted), rel=1e-5)
    assert shown[("performance.r2", "all")]["value"] == pytest.approx(
        r2_score(truth, predicted), rel=1e-5)
    by_sex = MetricFrame(metrics=mean_absolute_error, y_true=truth, y_pred=predicted,
                         sensitive_features=rows["sex"])
    for group, value in by_sex.by_group.items():
        assert shown[("fairness.mae", f"sex={group}")]["value"] == pytest.approx(value, rel=1e-5)
    assert shown[("fairness.mae_difference", "sex")]["value"] == pytest.approx(
        by_sex.difference(), rel=1e-5)
    printed = [o for o in outputs if "'prediction_id':" in o]
    assert len(printed) == 1 and "'value':" in printed[0]   # step 5 printed one prediction
