"""PerformanceMonitor: every figure equals scikit-learn's on the same rows (real Adult
data and a hand-counted window), intervals behave, missing labels never pass."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.calibration import calibration_curve

from adult_predictions import adult_predictions, build_window
from raigov.monitors.base import MONITORS, MetricRow
from raigov.monitors.catalog import metric_info
from raigov.monitors.counts import MISSING_PREDICTION, NOT_BINARY, TOO_FEW_ROWS
from raigov.monitors.performance import NO_LABELS, NO_SCORES, UNSUPPORTED_OUTPUT_KIND, PerformanceMonitor
from raigov.errors import ConfigError, InputError

TOL = 1e-9
LABEL_BASED = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece")


def by_key(rows: list[MetricRow]) -> dict[tuple[str, str], MetricRow]:
    return {(row.metric, row.segment): row for row in rows}


def ece_reference(y: np.ndarray, score: np.ndarray, *, bins: int = 10) -> float:
    """ECE from scikit-learn's calibration_curve (uniform bins) weighted by bin size."""
    prob_true, prob_pred = calibration_curve(y, score, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    sizes = np.bincount(np.searchsorted(edges[1:-1], score), minlength=bins)
    weights = sizes[sizes > 0] / len(y)
    return float(np.sum(weights * np.abs(prob_true - prob_pred)))


def sklearn_figures(frame: pd.DataFrame) -> dict[str, float]:
    labelled = frame[frame["y_true"].notna()]
    y, pred, score = labelled["y_true"], labelled["label"], labelled["score"]
    return {
        "accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, score), "log_loss": skm.log_loss(y, score),
        "ece": ece_reference(y.to_numpy(), score.to_numpy()),
        "positive_rate": float((frame["label"] == 1).mean()),
    }


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return adult_predictions()


@pytest.fixture(scope="module")
def adult_rows(adult: pd.DataFrame) -> dict[tuple[str, str], MetricRow]:
    return by_key(PerformanceMonitor(seed=3).run(build_window(adult, min_group_size=30)))


def adult_segments(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    segments = {"all": frame}
    for column in ("sex", "race"):
        for value, part in frame.groupby(column, observed=True):
            segments[f"{column}={value}"] = part
    return segments


def test_the_adult_fixture_has_every_sex_and_race_group_with_labels_missing_for_some_rows(
        adult: pd.DataFrame) -> None:
    assert set(adult["sex"]) == {"Female", "Male"}
    assert set(adult["race"]) == {"White", "Black", "Asian-Pac-Islander",
                                  "Amer-Indian-Eskimo", "Other"}
    assert 0.1 < adult["y_true"].isna().mean() < 0.3


def test_every_figure_equals_scikit_learn_on_real_adult_data_overall_and_per_group(
        adult: pd.DataFrame, adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    segments = adult_segments(adult)
    assert len(segments) == 8
    for segment, part in segments.items():
        for name, expected in sklearn_figures(part).items():
            row = adult_rows[(f"performance.{name}", segment)]
            assert row.value == pytest.approx(expected, abs=TOL, rel=0), (name, segment)


def test_the_confusion_matrix_in_details_is_scikit_learns(
        adult: pd.DataFrame, adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    for segment, part in adult_segments(adult).items():
        labelled = part[part["y_true"].notna()]
        expected = skm.confusion_matrix(labelled["y_true"], labelled["label"]).tolist()
        for name in ("accuracy", "precision", "recall", "f1"):
            assert adult_rows[(f"performance.{name}", segment)].details[
                "confusion_matrix"] == expected


def test_n_counts_the_rows_each_figure_uses(
        adult: pd.DataFrame, adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    female = adult[adult["sex"] == "Female"]
    labelled = female[female["y_true"].notna()]
    expected = {"accuracy": len(labelled), "f1": len(labelled), "roc_auc": len(labelled),
                "precision": int((labelled["label"] == 1).sum()),
                "recall": int((labelled["y_true"] == 1).sum()), "positive_rate": len(female)}
    for name, n in expected.items():
        assert adult_rows[(f"performance.{name}", "sex=Female")].n == n, name


def test_tied_scores_and_coarse_score_cells_still_give_scikit_learns_figures(
        adult: pd.DataFrame) -> None:
    tied = adult.assign(score=adult["score"].round(2))
    rows = by_key(PerformanceMonitor(score_bins=3, bootstrap=20).run(build_window(tied)))
    for name, expected in sklearn_figures(tied).items():
        assert rows[(f"performance.{name}", "all")].value == pytest.approx(expected, abs=TOL)


def hand_window(**monitoring: int):
    # y_true 1 1 1 1 0 0 0 0 0 0 and label 1 1 1 0 1 0 0 0 0 0 give, counted by hand:
    # TP = 3 (rows 0-2), FN = 1 (row 3), FP = 1 (row 4), TN = 5 (rows 5-9).
    frame = pd.DataFrame({
        "x": np.arange(10.0), "sex": ["a"] * 10,
        "y_true": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], "label": [1, 1, 1, 0, 1, 0, 0, 0, 0, 0],
        "score": [0.95, 0.85, 0.75, 0.35, 0.65, 0.45, 0.35, 0.25, 0.15, 0.05],
    })
    return build_window(frame, features=("x",), sensitive=("sex",), **monitoring)


def test_a_hand_counted_window_gives_the_counted_figures() -> None:
    rows = by_key(PerformanceMonitor(seed=1).run(hand_window(min_group_size=1)))
    # AUC: each of the positives 0.95, 0.85, 0.75 outranks all 6 negatives (18 pairs);
    # 0.35 outranks 0.25, 0.15, 0.05 and ties 0.35 (3.5 pairs): 21.5 of 24 pairs.
    # ECE bins (y_sum - score_sum): 0.95 -> 0.05, 0.85 -> 0.15, 0.75 -> 0.25,
    # 0.65 -> 0.65, 0.45 -> 0.45, {0.35 (y 1), 0.35 (y 0)} -> 1 - 0.7 = 0.3,
    # 0.25 -> 0.25, 0.15 -> 0.15, 0.05 -> 0.05; sum 2.3 over 10 rows.
    right = np.log([0.95, 0.85, 0.75, 0.35, 1 - 0.65, 0.55, 0.65, 0.75, 0.85, 0.95])
    expected = {"accuracy": 8 / 10, "precision": 3 / 4, "recall": 3 / 4, "f1": 0.75,
                "positive_rate": 4 / 10, "roc_auc": 21.5 / 24, "ece": 2.3 / 10,
                "log_loss": -right.mean()}
    for name, value in expected.items():
        row = rows[(f"performance.{name}", "all")]
        assert row.value == pytest.approx(value, abs=TOL), name
        assert row.status == "ok"
    assert rows[("performance.accuracy", "all")].details["confusion_matrix"] == [[5, 1], [1, 3]]
    assert rows[("performance.accuracy", "sex=a")].value == pytest.approx(0.8, abs=TOL)


def test_with_no_labels_every_label_based_figure_is_insufficient_data_with_a_reason() -> None:
    window = hand_window(min_group_size=1)
    window = dataclasses.replace(window, frame=window.frame.assign(y_true=np.nan))
    rows = by_key(PerformanceMonitor().run(window))
    for name in LABEL_BASED:
        row = rows[(f"performance.{name}", "all")]
        assert (row.value, row.status, row.details["reason"]) == (
            None, "insufficient_data", NO_LABELS), name
        assert row.ci_low is None and row.ci_high is None
    assert rows[("performance.positive_rate", "all")].status == "ok"


def test_a_segment_below_min_group_size_keeps_its_value_but_is_insufficient_data() -> None:
    rows = by_key(PerformanceMonitor().run(hand_window(min_group_size=30)))
    row = rows[("performance.accuracy", "sex=a")]
    assert row.value == pytest.approx(0.8)
    assert row.status == "insufficient_data"
    assert row.details["reason"] == TOO_FEW_ROWS.format(n=10, min_n=30)


def test_every_interval_contains_its_estimate_and_says_how_it_was_made(
        adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    wilson = {"accuracy", "precision", "recall", "positive_rate"}
    for (metric, segment), row in adult_rows.items():
        assert row.value is not None, (metric, segment)
        assert row.ci_low <= row.value <= row.ci_high, (metric, segment)
        name = metric.split(".", 1)[1]
        assert row.details["ci_method"] == ("wilson" if name in wilson else "bootstrap")


def test_the_cell_bootstrap_spreads_like_a_row_bootstrap(adult: pd.DataFrame) -> None:
    labelled = adult[adult["y_true"].notna()].iloc[:3000]
    y, score = labelled["y_true"].to_numpy(), labelled["score"].to_numpy()
    rng, auc, loss = np.random.default_rng(0), [], []
    for _ in range(200):
        i = rng.integers(0, len(y), len(y))
        auc.append(skm.roc_auc_score(y[i], score[i]))
        loss.append(skm.log_loss(y[i], score[i]))
    rows = by_key(PerformanceMonitor(seed=0, bootstrap=200).run(build_window(labelled)))
    for name, draws in (("roc_auc", auc), ("log_loss", loss)):
        row = rows[(f"performance.{name}", "all")]
        low, high = np.quantile(draws, [0.025, 0.975])
        assert (row.ci_high - row.ci_low) / (high - low) == pytest.approx(1.0, abs=0.25)


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_intervals(
        adult: pd.DataFrame) -> None:
    window = build_window(adult.iloc[:4000], bootstrap=50)
    first = PerformanceMonitor(seed=5).run(window)
    assert PerformanceMonitor(seed=5).run(window) == first
    key = ("performance.f1", "all")
    assert by_key(PerformanceMonitor(seed=6).run(window))[key].ci_low != by_key(first)[key].ci_low


def test_every_emitted_name_is_in_the_catalog_and_details_are_json(
        adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    for (metric, _), row in adult_rows.items():
        assert metric_info(metric) is not None, metric
        json.dumps(row.details)


def test_labels_other_than_0_and_1_are_refused_with_the_bad_values() -> None:
    window = hand_window(min_group_size=1)
    bad = window.frame.assign(y_true=[2, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(InputError) as caught:
        PerformanceMonitor().run(dataclasses.replace(window, frame=bad))
    assert str(caught.value) == NOT_BINARY.format(column="y_true", values=[2.0])


def test_an_output_kind_without_a_performance_computation_is_refused_naming_the_known_ones() -> None:
    window = hand_window(min_group_size=1)
    spec = window.spec.model_copy(update={"output_kind": "ordinal"})
    with pytest.raises(ConfigError) as caught:
        PerformanceMonitor().run(dataclasses.replace(window, spec=spec))
    assert str(caught.value) == UNSUPPORTED_OUTPUT_KIND.format(
        model=spec.name, kind="ordinal", known="binary, multiclass, regression")


def test_the_monitor_is_registered_under_its_family() -> None:
    assert MONITORS["performance"] is PerformanceMonitor


def test_rows_without_a_score_leave_the_score_figures_insufficient_with_that_reason() -> None:
    window = hand_window(min_group_size=1)
    rows = by_key(PerformanceMonitor().run(
        dataclasses.replace(window, frame=window.frame.assign(score=np.nan))))
    for name in ("roc_auc", "log_loss", "ece"):
        row = rows[(f"performance.{name}", "all")]
        assert (row.value, row.status, row.details["reason"]) == (
            None, "insufficient_data", NO_SCORES)
    assert rows[("performance.accuracy", "all")].value == pytest.approx(0.8)


def test_a_missing_predicted_class_is_refused_with_the_count() -> None:
    window = hand_window(min_group_size=1)
    frame = window.frame.assign(label=[1, None, 1, 0, 1, 0, 0, 0, 0, None])
    with pytest.raises(InputError) as caught:
        PerformanceMonitor().run(dataclasses.replace(window, frame=frame))
    assert str(caught.value) == MISSING_PREDICTION.format(count=2)
