"""Output drift per kind: multiclass ``drift.prediction`` compares the predicted-class
distribution, regression ``drift.prediction`` the predicted value and ``drift.residual``
the labelled rows' residuals, each equal to scipy's statistic (Evidently's definitions:
Jensen-Shannon distance of the class shares, normed Wasserstein of the values)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from kind_predictions import kind_window, multiclass_predictions, regression_predictions
from raigov.monitors.drift import NO_REFERENCE_RESIDUALS, DriftMonitor


def halves(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(0).permutation(len(frame))
    half = len(frame) // 2
    return (frame.iloc[order[:half]].reset_index(drop=True),
            frame.iloc[order[half:]].reset_index(drop=True))


def drift_rows(window) -> dict[str, object]:
    return {r.metric: r for r in DriftMonitor().run(window) if not r.metric.startswith("drift.feature")}


def normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    return wasserstein_distance(reference, current) / max(np.std(reference), 0.001)


def test_multiclass_prediction_drift_is_the_js_distance_of_predicted_class_shares() -> None:
    reference, current = halves(multiclass_predictions())
    window = kind_window(current, "multiclass", reference=reference)
    row = drift_rows(window)["drift.prediction"]
    shares = [np.bincount(f["label"], minlength=6) / len(f) for f in (reference, current)]
    assert row.value == pytest.approx(jensenshannon(*shares), rel=1e-9)
    assert row.details["method"] == "jensenshannon" and not row.details["drifted"]
    husbands = current[current["label"] == 0]
    shifted = pd.concat([current, husbands, husbands], ignore_index=True)
    assert drift_rows(dataclasses.replace(window, frame=shifted))["drift.prediction"].details["drifted"]


def test_regression_prediction_and_residual_drift_equal_normed_wasserstein() -> None:
    reference, current = halves(regression_predictions())
    window = kind_window(current, "regression", reference=reference)
    rows = drift_rows(window)
    assert rows["drift.prediction"].value == pytest.approx(
        normed_wasserstein(reference["value"].to_numpy(), current["value"].to_numpy()), rel=1e-9)
    residual = [(f["y_true"] - f["value"]).dropna().to_numpy() for f in (reference, current)]
    assert rows["drift.residual"].value == pytest.approx(normed_wasserstein(*residual), rel=1e-9)
    assert rows["drift.residual"].n == len(residual[1])
    assert not rows["drift.residual"].details["drifted"]


def test_a_biased_regression_model_drifts_in_its_residuals_but_not_its_inputs() -> None:
    reference, current = halves(regression_predictions())
    biased = current.assign(value=current["value"] - 4.0)
    rows = DriftMonitor().run(kind_window(biased, "regression", reference=reference))
    by_metric = {r.metric: r for r in rows}
    assert by_metric["drift.residual"].details["drifted"]
    assert by_metric["drift.share_drifted"].value == 0.0


def test_a_reference_without_truth_leaves_residual_drift_insufficient_saying_why() -> None:
    reference, current = halves(regression_predictions())
    rows = drift_rows(kind_window(current, "regression", reference=reference.drop(columns="y_true")))
    row = rows["drift.residual"]
    assert (row.value, row.status) == (None, "insufficient_data")
    assert row.details["reason"] == NO_REFERENCE_RESIDUALS
