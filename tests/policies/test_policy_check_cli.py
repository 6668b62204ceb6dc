"""``raigov policy-check --data`` as CI runs it: a real process on real Adult data."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from raigov.models.datasets import load_adult

ROOT = Path(__file__).parents[2]
POLICY = """\
policy: lending-fairness
version: 3
description: Four-fifths rule for income-based decisions
applies_to: {models: ["*"]}
references: ["EEOC 29 CFR 1607.4(D)"]
rules:
  - id: four-fifths-sex
    metric: fairness.selection_rate_ratio
    sensitive: sex
    op: ">="
    threshold: 0.8
    severity: critical
    min_samples: 100
"""
WAIVER = """\
waivers:
  - rule: four-fifths-sex
    reason: Remediation model ships next sprint
    approved_by: risk-office
    expires: 2099-12-31
"""


@pytest.fixture(scope="module")
def holdout(tmp_path_factory) -> Path:
    """Adult test rows scored by a logistic regression that sees sex and favours men."""
    train, test = load_adult("train"), load_adult("test")
    cols = ["age", "education_num", "hours_per_week", "capital_gain", "sex", "marital_status"]
    x_train = pd.get_dummies(train[cols], dtype=float)
    x_test = pd.get_dummies(test[cols], dtype=float).reindex(columns=x_train.columns, fill_value=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, train["income"])
    scores = model.predict_proba(x_test)[:, 1]
    frame = pd.DataFrame({"income": test["income"], "approved": (scores >= 0.5).astype(int),
                          "score": scores, "sex": test["sex"], "race": test["race"]})
    path = tmp_path_factory.mktemp("holdout") / "holdout.parquet"
    frame.to_parquet(path)
    return path


def _check(policy: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "raigov.cli", "policy-check", "--policy", str(policy),
           "--data", str(data), "--label", "income", "--prediction", "approved",
           "--score", "score", "--sensitive", "sex", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def test_a_model_favouring_men_fails_the_four_fifths_rule_with_exit_code_1(holdout, tmp_path) -> None:
    policy = tmp_path / "lending.yaml"
    policy.write_text(POLICY)
    done = _check(policy, holdout, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    finding = next(f for f in report["findings"] if f["rule_id"] == "four-fifths-sex")
    assert finding["status"] == "fail"
    frame = pd.read_parquet(holdout)
    by_hand = {sex: int(g["approved"].sum()) / len(g) for sex, g in frame.groupby("sex")}
    groups = finding["groups"]
    for sex, rate in by_hand.items():
        assert groups[sex]["value"] == pytest.approx(rate, abs=1e-12)
        assert groups[sex]["n"] == int((frame["sex"] == sex).sum())
    assert finding["observed"] == pytest.approx(min(by_hand.values()) / max(by_hand.values()), abs=1e-12)
    assert finding["observed"] < 0.8


def test_with_a_waiver_in_force_the_check_exits_0_and_reports_waived(holdout, tmp_path) -> None:
    policy = tmp_path / "lending.yaml"
    policy.write_text(POLICY + WAIVER)
    done = _check(policy, holdout, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    statuses = {f["rule_id"]: f["status"] for f in report["findings"]}
    assert statuses == {"four-fifths-sex": "waived"}
    assert report["counts"]["waived"] == 1 and report["counts"]["pass"] == 0


def test_junit_and_sarif_outputs_are_written_to_files(holdout, tmp_path) -> None:
    policy = tmp_path / "lending.yaml"
    policy.write_text(POLICY)
    junit, sarif = tmp_path / "r.xml", tmp_path / "r.sarif"
    assert _check(policy, holdout, "--format", "junit", "--output", str(junit)).returncode == 1
    assert _check(policy, holdout, "--format", "sarif", "--output", str(sarif)).returncode == 1
    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites" and len(suites.findall(".//failure")) == 1
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def test_a_missing_column_is_bad_input_with_exit_code_2_naming_file_and_column(holdout, tmp_path) -> None:
    policy = tmp_path / "lending.yaml"
    policy.write_text(POLICY)
    cmd = [sys.executable, "-m", "raigov.cli", "policy-check", "--policy", str(policy),
           "--data", str(holdout), "--label", "incme", "--prediction", "approved"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert f"Data file {holdout} has no column 'incme'" in done.stderr
    assert "Did you mean 'income'?" in done.stderr


def test_a_broken_policy_file_is_exit_code_2_naming_file_and_line(holdout, tmp_path) -> None:
    policy = tmp_path / "broken.yaml"
    policy.write_text(POLICY.replace('op: ">="', 'op: "=>"'))
    done = _check(policy, holdout)
    assert done.returncode == 2
    assert str(policy) in done.stderr and "line 10" in done.stderr


def test_policy_check_on_a_live_model_judges_its_latest_window(seeded_home_template) -> None:
    from raigov.monitors.store import read_metric_rows

    pack = ROOT / "policies" / "packs" / "fairness-four-fifths.yaml"
    cmd = [sys.executable, "-m", "raigov.cli", "policy-check", "--policy", str(pack),
           "--home", str(seeded_home_template.root), "--model", "income-classifier",
           "--format", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    rows = read_metric_rows(seeded_home_template, model="income-classifier",
                            metric_prefix="fairness.selection_rate_ratio")
    latest = rows[rows["window_start"] == rows["window_start"].max()]
    expected = dict(zip(latest["segment"], latest["value"]))
    observed = {f["segment"]: f["observed"] for f in report["findings"]
                if f["rule_id"] == "four-fifths"}
    assert set(observed) == {"sex", "race"}
    for segment, value in observed.items():
        assert value == pytest.approx(expected[segment], abs=1e-12) or (
            value is None and pd.isna(expected[segment]))
    assert done.returncode == (1 if any(f["status"] in ("fail", "error") for f in report["findings"]) else 0)
