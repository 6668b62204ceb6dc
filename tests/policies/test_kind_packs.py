"""The multiclass-classifier and regressor packs on real data: quiet on calm Adult
predictions of scikit-learn models, failing when the model breaks; and
``raigov policy-check --data`` on multiclass and regression files through the real CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

from raigov.monitors.fairness import FairnessMonitor
from raigov.monitors.offline import NOT_A_CLASS
from raigov.monitors.performance import PerformanceMonitor
from raigov.policies.evaluate import evaluate
from raigov.policies.loader import load_policy, pack_paths
from tests.monitors.kind_predictions import (CLASSES, kind_window, multiclass_predictions,
                                             regression_predictions)

ROOT = Path(__file__).parents[2]
PACKS = {p.stem: p for p in pack_paths()}
SENSITIVE = ("sex", "race")


def findings(pack: str, window) -> list:
    rows = PerformanceMonitor().run(window) + FairnessMonitor().run(window)
    return evaluate([load_policy(PACKS[pack])], rows, model=window.spec.name, version=1,
                    window_start=None, window_end=None, today=dt.date(2026, 3, 2),
                    sensitive=SENSITIVE)


def statuses(found: list) -> dict[tuple[str, str], str]:
    return {(f.rule_id, f.segment): f.status for f in found}


def test_the_multiclass_pack_is_quiet_on_calm_real_data_and_fails_a_broken_model() -> None:
    frame = multiclass_predictions()
    calm = statuses(findings("multiclass-classifier", kind_window(frame, "multiclass")))
    assert len(calm) == 6 and set(calm.values()) == {"pass"}, calm
    shuffled = frame.assign(label=np.random.default_rng(0).permutation(frame["label"]))
    broken = statuses(findings("multiclass-classifier", kind_window(shuffled, "multiclass")))
    assert broken[("accuracy-floor", "all")] == "fail"
    assert broken[("weighted-f1-floor", "all")] == "fail"


def test_the_regressor_pack_is_quiet_on_calm_real_data_and_fails_a_biased_model() -> None:
    frame = regression_predictions()
    calm = statuses(findings("regressor", kind_window(frame, "regression")))
    # r2-floor on the whole window; every other rule of the pack once per sensitive
    # attribute (no intersection is declared here, so "*" means the two attributes)
    rules = [r.id for r in load_policy(PACKS["regressor"]).rules]
    expected = {("r2-floor", "all")} | {(r, a) for r in rules if r != "r2-floor"
                                        for a in SENSITIVE}
    assert set(calm) == expected and set(calm.values()) == {"pass"}, calm
    biased = frame.assign(value=frame["value"] + 15.0)
    broken = statuses(findings("regressor", kind_window(biased, "regression")))
    assert broken[("r2-floor", "all")] == "fail"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kinds")
    mc = multiclass_predictions()
    proba = np.stack(mc["probabilities"].to_numpy())
    multiclass = pd.DataFrame({
        "relationship": mc["y_true"].map(lambda i: None if pd.isna(i) else CLASSES[int(i)]),
        "predicted": [CLASSES[i] for i in mc["label"]],
        **{f"p_{c}": proba[:, i] for i, c in enumerate(CLASSES)},
        "sex": mc["sex"].astype(str), "race": mc["race"].astype(str)})
    multiclass.to_parquet(root / "multiclass.parquet")
    rg = regression_predictions()
    regression = pd.DataFrame({"hours": rg["y_true"], "predicted_hours": rg["value"],
                               "sex": rg["sex"].astype(str), "race": rg["race"].astype(str)})
    regression.to_csv(root / "regression.csv", index=False)
    regression.assign(predicted_hours=regression["predicted_hours"] + 15).to_csv(
        root / "biased.csv", index=False)
    return {"multiclass": root / "multiclass.parquet", "regression": root / "regression.csv",
            "biased": root / "biased.csv"}


def _check(pack: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "raigov.cli", "policy-check", "--policy", str(PACKS[pack]),
           "--sensitive", "sex", "--sensitive", "race", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def test_policy_check_data_on_a_multiclass_file_passes_with_scikit_learn_s_figures(files) -> None:
    done = _check("multiclass-classifier", "--data", str(files["multiclass"]), "--kind",
                  "multiclass", "--label", "relationship", "--prediction", "predicted",
                  "--probabilities", "p_", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = {f["rule_id"] + "@" + f["segment"]: f for f in json.loads(done.stdout)["findings"]}
    frame = pd.read_parquet(files["multiclass"]).dropna(subset=["relationship"])
    assert report["accuracy-floor@all"]["observed"] == pytest.approx(
        skm.accuracy_score(frame["relationship"], frame["predicted"]), abs=1e-12)
    assert report["weighted-f1-floor@all"]["observed"] == pytest.approx(
        skm.f1_score(frame["relationship"], frame["predicted"], average="weighted"), abs=1e-12)
    assert {f["status"] for f in report.values()} == {"pass"}


def test_policy_check_data_on_regression_files_passes_calm_and_fails_biased(files) -> None:
    args = ("--kind", "regression", "--label", "hours", "--prediction", "predicted_hours",
            "--format", "json")
    calm = _check("regressor", "--data", str(files["regression"]), *args)
    assert calm.returncode == 0, calm.stdout + calm.stderr
    frame = pd.read_csv(files["regression"]).dropna(subset=["hours"])
    r2 = next(f for f in json.loads(calm.stdout)["findings"] if f["rule_id"] == "r2-floor")
    assert r2["observed"] == pytest.approx(skm.r2_score(frame["hours"], frame["predicted_hours"]),
                                        rel=1e-9)
    biased = _check("regressor", "--data", str(files["biased"]), *args)
    assert biased.returncode == 1
    assert any(f["rule_id"] == "r2-floor" and f["status"] == "fail"
               for f in json.loads(biased.stdout)["findings"])


def test_a_class_the_file_does_not_declare_is_exit_2_naming_file_row_and_close_match(
        files, tmp_path) -> None:
    frame = pd.read_parquet(files["multiclass"])
    frame.loc[4, "predicted"] = "Husbnd"
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    done = _check("multiclass-classifier", "--data", str(path), "--kind", "multiclass",
                  "--label", "relationship", "--prediction", "predicted", "--probabilities", "p_")
    assert done.returncode == 2
    expected = NOT_A_CLASS.format(path=path, column="predicted", row=5, value="Husbnd",
                                  classes=list(CLASSES), hint=" Did you mean 'Husband'?")
    assert expected.split(" Did you")[0] in done.stderr and "Husband" in done.stderr


def test_an_unknown_output_kind_is_exit_2_with_a_close_match(files) -> None:
    done = _check("regressor", "--data", str(files["regression"]), "--kind", "regresion",
                  "--label", "hours", "--prediction", "predicted_hours")
    assert done.returncode == 2
    assert "regresion" in done.stderr and "regression" in done.stderr
