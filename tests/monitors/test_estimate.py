"""The ``estimate`` family (CBPE) against NannyML's own calculator on the synthetic
data sets NannyML ships, and its per-group bands against realised rates on Adult.

Tolerances: estimates and sampling errors 1e-9 (the same arithmetic in a different
order; float rounding only)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from adult_predictions import adult_predictions, build_window
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from raigov.monitors.estimate import NO_REFERENCE_OUTPUTS, EstimateMonitor
from raigov.monitors.estimate_cbpe import (Calibrator, binary_components, binary_estimates,
                                           calibrate_multiclass, multiclass_error,
                                           multiclass_estimates, needs_calibration)

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
import nannyml as nml  # noqa: E402  (the dev extra installs it: a missing one fails, not skips)
TOL = 1e-9
METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")


def _quiet():
    warnings.filterwarnings("ignore")


def test_binary_cbpe_equals_nannyml_per_chunk() -> None:
    _quiet()
    ref, ana, _ = nml.load_synthetic_binary_classification_dataset()
    est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="work_home_actual",
                   problem_type="classification_binary", chunk_size=5000,
                   metrics=[*METRICS, "specificity"])
    est.fit(ref)
    res = est.estimate(ana).filter(period="analysis").to_df()
    y, s, pred = (ref[c].to_numpy() for c in ("work_home_actual", "y_pred_proba", "y_pred"))
    calibrator = Calibrator.fit(y, s)
    assert calibrator.used is bool(est.needs_calibration) is True
    components = binary_components(pred, y, s)
    assert len(res) == 10
    for i in range(len(res)):
        chunk = ana.iloc[i * 5000:(i + 1) * 5000]
        raw = chunk["y_pred_proba"].to_numpy()
        ours = binary_estimates(chunk["y_pred"].to_numpy(), calibrator(raw), raw)
        for m in METRICS:
            assert ours[m] == pytest.approx(res[(m, "value")].iloc[i], abs=TOL), (i, m)
            assert components[m].error(len(chunk)) == pytest.approx(
                res[(m, "sampling_error")].iloc[i], abs=TOL), (i, m)
        # FPR is 1 - specificity, with specificity's sampling error
        assert ours["false_positive_rate"] == pytest.approx(
            1 - res[("specificity", "value")].iloc[i], abs=TOL)
        assert components["false_positive_rate"].error(len(chunk)) == pytest.approx(
            res[("specificity", "sampling_error")].iloc[i], abs=TOL)


@pytest.mark.slow
def test_multiclass_cbpe_equals_nannyml_per_chunk() -> None:
    _quiet()
    ref, ana, _ = nml.load_synthetic_multiclass_classification_dataset()
    classes = sorted(["prepaid_card", "highstreet_card", "upmarket_card"])
    columns = [f"y_pred_proba_{c}" for c in classes]
    est = nml.CBPE(y_pred_proba=dict(zip(classes, columns)), y_pred="y_pred", y_true="y_true",
                   problem_type="classification_multiclass", metrics=list(METRICS),
                   chunk_size=6000)
    est.fit(ref)
    res = est.estimate(ana).filter(period="analysis").to_df()
    index = {c: i for i, c in enumerate(classes)}
    y, pred, proba = ref["y_true"].map(index).to_numpy(), ref["y_pred"].map(index).to_numpy(), \
        ref[columns].to_numpy()
    calibrators = [Calibrator.fit((y == k).astype(int), proba[:, k]) for k in range(3)]
    components = [binary_components((pred == k).astype(int), (y == k).astype(int), proba[:, k],
                                    variance=True) for k in range(3)]
    accuracy_std = float(np.std((pred == y).astype(float)))
    for i in range(len(res)):
        chunk = ana.iloc[i * 6000:(i + 1) * 6000]
        raw = chunk[columns].to_numpy()
        ours = multiclass_estimates(chunk["y_pred"].map(index).to_numpy(),
                                    calibrate_multiclass(calibrators, raw), raw)
        for m in METRICS:
            assert ours[m] == pytest.approx(res[(m, "value")].iloc[i], abs=TOL), (i, m)
            assert multiclass_error(m, components, accuracy_std, len(chunk)) == pytest.approx(
                res[(m, "sampling_error")].iloc[i], abs=TOL), (i, m)


def test_needs_calibration_follows_nannyml_rule() -> None:
    from nannyml.calibration import IsotonicCalibrator
    from nannyml.calibration import needs_calibration as theirs

    rng = np.random.default_rng(3)
    for case in range(6):
        s = rng.random(4000)
        y = (rng.random(4000) < (s if case % 2 else s ** 3)).astype(int)  # calibrated / not
        assert needs_calibration(y, s) == theirs(y, s, IsotonicCalibrator()), case
    assert needs_calibration(np.zeros(50, dtype=int), rng.random(50)) is False


def _split(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    labelled = adult_predictions()
    labelled = labelled[labelled["y_true"].notna()].reset_index(drop=True)
    perm = np.random.default_rng(seed).permutation(len(labelled))
    return (labelled.iloc[perm[:6000]].reset_index(drop=True),
            labelled.iloc[perm[6000:]].reset_index(drop=True))


def _realised(rows: pd.DataFrame, metric: str) -> float:
    y, p = rows["y_true"].astype(int), rows["label"]
    if metric in ("true_positive_rate", "recall"):
        return recall_score(y, p)
    if metric == "false_positive_rate":
        return 1 - recall_score(1 - y, 1 - p)
    return {"accuracy": accuracy_score, "precision": precision_score, "f1": f1_score}[metric](y, p)


def _rows_of(window_rows: pd.DataFrame, segment: str) -> pd.DataFrame:
    if segment == "all":
        return window_rows
    column, value = segment.split("=")
    return window_rows[window_rows[column].astype(str) == value]


@pytest.mark.slow
def test_group_rate_bands_cover_realised_rates_on_adult(tmp_path: Path) -> None:
    """Estimated per-group TPR and FPR: their 95 % bands hold the realised rates (once
    the labels are looked at) in 90-99 % of many Adult windows."""
    reference, pool = _split()
    rng = np.random.default_rng(1)
    hits: list[bool] = []
    for _ in range(60):
        rows = pool.iloc[rng.choice(len(pool), 1000, replace=False)].reset_index(drop=True)
        unlabelled = rows.assign(y_true=np.nan)   # the monitor sees no label
        window = build_window(unlabelled)
        window.reference, window.artifact_dir = reference, tmp_path
        for row in EstimateMonitor().run(window):
            metric = row.metric.removeprefix("estimate.")
            if metric not in ("true_positive_rate", "false_positive_rate") or row.segment == "all" \
                    or row.status != "ok":
                continue
            assert not row.metric.startswith("estimate.error")
            hits.append(row.ci_low <= _realised(_rows_of(rows, row.segment), metric) <= row.ci_high)
    assert len(hits) > 400
    assert 0.90 <= np.mean(hits) <= 0.99, np.mean(hits)


def test_window_rows_and_error_rows_on_adult(tmp_path: Path) -> None:
    reference, pool = _split()
    rows = pool.iloc[:3000].reset_index(drop=True)
    hidden = rows.copy()
    hidden.loc[hidden.index[1500:], "y_true"] = np.nan   # half the labels have arrived
    window = build_window(hidden)
    window.reference, window.artifact_dir = reference, tmp_path
    out = {(r.metric, r.segment): r for r in EstimateMonitor().run(window)}
    for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "true_positive_rate",
              "false_positive_rate"):
        for segment in ("all", "sex=Female", "sex=Male", "race=White"):
            row = out[(f"estimate.{m}", segment)]
            assert row.status == "ok" and row.n == len(_rows_of(rows, segment))
            assert row.ci_low < row.value < row.ci_high
            error = out[(f"estimate.error.{m}", segment)]
            labelled = _rows_of(rows.iloc[:1500], segment)
            assert error.n == len(labelled)
            realised = (roc_auc_score(labelled["y_true"], labelled["score"]) if m == "roc_auc"
                        else _realised(labelled, m))
            assert error.details["realised"] == pytest.approx(realised, abs=1e-12)
            assert error.value == pytest.approx(error.details["estimate_on_labelled"] - realised)
            assert abs(error.value) < 0.1   # a calibrated model on unshifted data
    # the estimate of 'all' matches a hand computation of the expected confusion counts
    calibrator = Calibrator.fit(reference["y_true"].astype(int).to_numpy(),
                                reference["score"].to_numpy())
    p = calibrator(rows["score"].to_numpy())
    pos = rows["label"].to_numpy() == 1
    assert out[("estimate.precision", "all")].value == pytest.approx(p[pos].sum() / pos.sum())
    assert out[("estimate.accuracy", "all")].value == pytest.approx(
        (p[pos].sum() + (1 - p[~pos]).sum()) / len(rows))


def test_reference_without_labels_says_so() -> None:
    reference, pool = _split()
    window = build_window(pool.iloc[:200].reset_index(drop=True))
    window.reference = reference.drop(columns=["y_true"])
    rows = EstimateMonitor().run(window)
    assert {r.status for r in rows} == {"insufficient_data"}
    assert rows[0].details["reason"] == NO_REFERENCE_OUTPUTS.format(missing="y_true")
