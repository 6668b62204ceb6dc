"""PerformanceMonitor on multiclass and regression models: every figure equals
scikit-learn's on the same rows of real Adult data (a multinomial logistic regression
predicting ``relationship``, a ridge regression predicting ``hours_per_week``), overall
and per sex and race group; intervals hold their figure; missing inputs never pass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.calibration import calibration_curve

from kind_predictions import CLASSES, kind_window, multiclass_predictions, regression_predictions
from raigov.errors import InputError
from raigov.monitors.base import MetricRow
from raigov.monitors.catalog import metric_info
from raigov.monitors.frame_columns import MISSING_VALUE, NOT_A_CLASS, PROBABILITIES_SHAPE
from raigov.monitors.performance import PerformanceMonitor
from raigov.monitors.performance_common import NO_LABELS
from raigov.monitors.performance_multiclass import NO_PREDICTED, NO_PROBABILITIES
from raigov.monitors.performance_regression import R2_UNDEFINED

TOL = 1e-9
K = len(CLASSES)


def by_key(rows: list[MetricRow]) -> dict[tuple[str, str], MetricRow]:
    keys = [(row.metric, row.segment) for row in rows]
    assert len(keys) == len(set(keys)), "a metric and segment appear twice"
    return dict(zip(keys, rows))


def segments(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {"all": frame}
    for column in ("sex", "race"):
        for value, part in frame.groupby(column, observed=True):
            out[f"{column}={value}"] = part
    return out


def top_label_ece(correct: np.ndarray, confidence: np.ndarray, bins: int = 10) -> float:
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform")
    sizes = np.bincount(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], confidence),
                        minlength=bins)
    return float(np.sum(sizes[sizes > 0] / len(correct) * np.abs(prob_true - prob_pred)))


@pytest.fixture(scope="module")
def multiclass() -> pd.DataFrame:
    return multiclass_predictions()


@pytest.fixture(scope="module")
def multiclass_rows(multiclass: pd.DataFrame) -> dict[tuple[str, str], MetricRow]:
    return by_key(PerformanceMonitor(seed=3).run(kind_window(multiclass, "multiclass")))


@pytest.fixture(scope="module")
def regression() -> pd.DataFrame:
    return regression_predictions()


@pytest.fixture(scope="module")
def regression_rows(regression: pd.DataFrame) -> dict[tuple[str, str], MetricRow]:
    return by_key(PerformanceMonitor(seed=3).run(kind_window(regression, "regression")))


def test_the_fixtures_are_real_adult_rows_with_six_classes_and_labels_missing_for_some(
        multiclass: pd.DataFrame, regression: pd.DataFrame) -> None:
    assert len(multiclass) == len(regression) == 16281
    assert set(multiclass["y_true"].dropna()) == set(range(K))
    assert 0.1 < multiclass["y_true"].isna().mean() < 0.3
    assert 0.1 < regression["y_true"].isna().mean() < 0.3


def test_every_multiclass_figure_equals_scikit_learn_overall_and_per_group(
        multiclass: pd.DataFrame, multiclass_rows: dict) -> None:
    parts = segments(multiclass)
    assert len(parts) == 8
    for segment, part in parts.items():
        labelled = part[part["y_true"].notna()]
        y, pred = labelled["y_true"].astype(int), labelled["label"]
        proba = np.stack(labelled["probabilities"].to_numpy())
        expected = {
            "accuracy": skm.accuracy_score(y, pred),
            "top_k_accuracy": skm.top_k_accuracy_score(y, proba, k=3, labels=range(K)),
            "log_loss": skm.log_loss(y, proba, labels=range(K)),
            "ece": top_label_ece((pred == y).to_numpy(), labelled["score"].to_numpy()),
        }
        for average in ("macro", "weighted"):
            p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=average,
                                                             zero_division=0)
            expected |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f}
        for name, value in expected.items():
            row = multiclass_rows[(f"performance.{name}", segment)]
            assert row.value == pytest.approx(value, abs=TOL), (name, segment)
        assert multiclass_rows[("performance.accuracy", segment)].n == len(labelled)
        assert multiclass_rows[("performance.top_k_accuracy", segment)].details["k"] == 3


def test_every_per_class_figure_equals_scikit_learn_and_undefined_ones_say_why(
        multiclass: pd.DataFrame, multiclass_rows: dict) -> None:
    checked = undefined = 0
    for segment, part in segments(multiclass).items():
        labelled = part[part["y_true"].notna()]
        y, pred = labelled["y_true"].astype(int), labelled["label"]
        p, r, f, support = skm.precision_recall_fscore_support(
            y, pred, labels=range(K), average=None, zero_division=np.nan)
        for c, name in enumerate(CLASSES):
            where = f"class={name}" if segment == "all" else f"{segment}&class={name}"
            for figure, values in (("precision", p), ("recall", r), ("f1", f)):
                row = multiclass_rows[(f"performance.{figure}", where)]
                if np.isnan(values[c]):
                    assert row.value is None and row.status == "insufficient_data"
                    undefined += 1
                else:
                    assert row.value == pytest.approx(values[c], abs=TOL), (figure, where)
                    checked += 1
            assert multiclass_rows[("performance.recall", where)].n == support[c]
    assert checked + undefined == 8 * K * 3 and checked > 120 and undefined > 0
    row = multiclass_rows[("performance.precision", "race=Other&class=Other-relative")]
    if row.value is None:
        assert row.details["reason"] == NO_PREDICTED.format(name="Other-relative")


def test_top_k_accuracy_breaks_ties_as_scikit_learn_and_k_follows_the_model_config() -> None:
    proba = np.array([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.5, 0.25, 0.25], [0.1, 0.1, 0.8],
                      [1 / 3, 1 / 3, 1 / 3], [0.3, 0.3, 0.4]])
    y = np.array([0, 1, 2, 0, 0, 1])
    frame = pd.DataFrame({"sex": ["A"] * 6, "race": ["B"] * 6, "label": proba.argmax(axis=1),
                          "score": proba.max(axis=1), "probabilities": list(proba),
                          "y_true": y.astype(float)})
    for column in ("age", "education_num", "hours_per_week", "capital_gain", "capital_loss"):
        frame[column] = 1.0
    for column in ("workclass", "marital_status", "occupation"):
        frame[column] = "x"
    three = ("a", "b", "c")
    for k, top_k in ((2, None), (1, 1), (2, 2)):
        window = kind_window(frame, "multiclass", min_group_size=1, top_k=top_k)
        window = dataclasses.replace(window, spec=window.spec.model_copy(update={"classes": three}))
        rows = by_key(PerformanceMonitor().run(window))
        row = rows[("performance.top_k_accuracy", "all")]
        assert row.details["k"] == k
        assert row.value == pytest.approx(skm.top_k_accuracy_score(y, proba, k=k, labels=range(3)))


def test_multiclass_intervals_hold_their_figure_and_proportions_use_wilson(
        multiclass_rows: dict) -> None:
    checked = 0
    for (metric, segment), row in multiclass_rows.items():
        if row.value is None or row.n < 30:
            continue
        assert row.ci_low <= row.value <= row.ci_high, (metric, segment)
        checked += 1
    assert checked > 100
    assert multiclass_rows[("performance.accuracy", "all")].details["ci_method"] == "wilson"
    assert multiclass_rows[("performance.f1_macro", "all")].details["ci_method"] == "bootstrap"
    width = multiclass_rows[("performance.accuracy", "all")]
    assert 0 < width.ci_high - width.ci_low < 0.03


def test_rows_without_probabilities_leave_top_k_log_loss_and_ece_insufficient(
        multiclass: pd.DataFrame) -> None:
    frame = multiclass.drop(columns=["probabilities"])
    rows = by_key(PerformanceMonitor().run(kind_window(frame, "multiclass")))
    for name in ("top_k_accuracy", "log_loss", "ece"):
        row = rows[(f"performance.{name}", "all")]
        assert (row.value, row.status, row.details["reason"]) == (None, "insufficient_data",
                                                                  NO_PROBABILITIES)
    assert rows[("performance.accuracy", "all")].status == "ok"


def test_a_window_without_labels_gives_no_multiclass_figure_and_says_so(
        multiclass: pd.DataFrame) -> None:
    rows = PerformanceMonitor().run(kind_window(multiclass.assign(y_true=np.nan), "multiclass"))
    assert rows and {r.status for r in rows} == {"insufficient_data"}
    assert {r.details["reason"] for r in rows if r.segment == "all"} == {NO_LABELS}


def test_a_class_index_outside_the_classes_is_refused_with_the_bad_value(
        multiclass: pd.DataFrame) -> None:
    bad = multiclass.assign(label=multiclass["label"].where(multiclass.index != 5, 9))
    with pytest.raises(InputError) as caught:
        PerformanceMonitor().run(kind_window(bad, "multiclass"))
    assert str(caught.value) == NOT_A_CLASS.format(column="label", last=K - 1,
                                                   classes=list(CLASSES), values=[9.0])


def test_probabilities_of_the_wrong_length_are_refused_naming_the_row(
        multiclass: pd.DataFrame) -> None:
    probabilities = multiclass["probabilities"].copy()
    probabilities.iloc[3] = np.array([0.5, 0.5])
    with pytest.raises(InputError) as caught:
        PerformanceMonitor().run(kind_window(multiclass.assign(probabilities=probabilities),
                                             "multiclass"))
    assert str(caught.value) == PROBABILITIES_SHAPE.format(row=3, found=2, k=K,
                                                           classes=list(CLASSES))


def test_every_regression_figure_equals_scikit_learn_overall_and_per_group(
        regression: pd.DataFrame, regression_rows: dict) -> None:
    for segment, part in segments(regression).items():
        labelled = part[part["y_true"].notna()]
        y, value = labelled["y_true"], labelled["value"]
        expected = {"mae": skm.mean_absolute_error(y, value),
                    "rmse": skm.root_mean_squared_error(y, value),
                    "r2": skm.r2_score(y, value),
                    "mape": skm.mean_absolute_percentage_error(y, value),
                    "median_absolute_error": skm.median_absolute_error(y, value)}
        for name, figure in expected.items():
            row = regression_rows[(f"performance.{name}", segment)]
            assert row.value == pytest.approx(figure, rel=1e-9, abs=1e-12), (name, segment)
            assert row.n == len(labelled)
            assert row.ci_low <= row.value <= row.ci_high, (name, segment)


def test_a_large_window_s_mae_interval_matches_normal_theory(regression: pd.DataFrame) -> None:
    labelled = regression[regression["y_true"].notna()]
    big = labelled.sample(200_000, replace=True, random_state=1).reset_index(drop=True)
    rows = by_key(PerformanceMonitor(seed=1).run(kind_window(big, "regression")))
    row = rows[("performance.mae", "all")]
    error = np.abs(big["y_true"] - big["value"])
    half = 1.96 * error.std() / np.sqrt(len(big))
    assert (row.ci_high - row.ci_low) / 2 == pytest.approx(half, rel=0.15)
    assert "m-out-of-n" in row.details["bootstrap_scheme"]


def test_r2_of_a_segment_with_constant_truth_is_undefined_not_zero(
        regression: pd.DataFrame) -> None:
    rows = by_key(PerformanceMonitor().run(kind_window(regression.assign(y_true=40.0),
                                                       "regression")))
    row = rows[("performance.r2", "all")]
    assert (row.value, row.status, row.details["reason"]) == (None, "insufficient_data",
                                                              R2_UNDEFINED)
    assert rows[("performance.mae", "all")].status == "ok"


def test_a_missing_predicted_value_is_refused_with_the_count(regression: pd.DataFrame) -> None:
    bad = regression.assign(value=regression["value"].where(regression.index > 1))
    with pytest.raises(InputError) as caught:
        PerformanceMonitor().run(kind_window(bad, "regression"))
    assert str(caught.value) == MISSING_VALUE.format(column="value", count=2)


def test_every_new_metric_name_is_in_the_catalog(multiclass_rows: dict,
                                                 regression_rows: dict) -> None:
    names = {metric for metric, _ in [*multiclass_rows, *regression_rows]}
    assert {"performance.top_k_accuracy", "performance.f1_macro", "performance.r2"} <= names
    assert [n for n in names if metric_info(n) is None] == []
