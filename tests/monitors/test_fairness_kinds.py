"""FairnessMonitor on multiclass and regression models: per-group figures, differences
and ratios equal fairlearn's MetricFrame (and fairlearn's demographic parity, equalized
odds and BoundedGroupLoss) on the same rows of real Adult data."""

from __future__ import annotations

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn.reductions import BoundedGroupLoss, SquareLoss

from kind_predictions import CLASSES, kind_window, multiclass_predictions, regression_predictions
from raigov.monitors.base import MetricRow
from raigov.monitors.catalog import metric_info
from raigov.monitors.fairness import FairnessMonitor
from raigov.monitors.fairness_binary import TOO_FEW_GROUPS

TOL = 1e-9
ATTRIBUTES = ("sex", "race")


def by_key(rows: list[MetricRow]) -> dict[tuple[str, str], MetricRow]:
    keys = [(row.metric, row.segment) for row in rows]
    assert len(keys) == len(set(keys)), "a metric and segment appear twice"
    return dict(zip(keys, rows))


@pytest.fixture(scope="module")
def multiclass() -> pd.DataFrame:
    return multiclass_predictions()


@pytest.fixture(scope="module")
def multiclass_rows(multiclass: pd.DataFrame) -> dict[tuple[str, str], MetricRow]:
    window = kind_window(multiclass, "multiclass", min_group_size=1)
    return by_key(FairnessMonitor(seed=2).run(window))


@pytest.fixture(scope="module")
def regression() -> pd.DataFrame:
    return regression_predictions()


@pytest.fixture(scope="module")
def regression_rows(regression: pd.DataFrame) -> dict[tuple[str, str], MetricRow]:
    window = kind_window(regression, "regression", min_group_size=1)
    return by_key(FairnessMonitor(seed=2).run(window))


def test_multiclass_accuracy_per_group_and_its_disparities_equal_metricframe(
        multiclass: pd.DataFrame, multiclass_rows: dict) -> None:
    labelled = multiclass[multiclass["y_true"].notna()]
    for attribute in ATTRIBUTES:
        frame = flm.MetricFrame(metrics=skm.accuracy_score, y_true=labelled["y_true"],
                                y_pred=labelled["label"],
                                sensitive_features=labelled[attribute].astype(str))
        for group, value in frame.by_group.items():
            row = multiclass_rows[("fairness.accuracy", f"{attribute}={group}")]
            assert row.value == pytest.approx(value, abs=TOL)
        assert multiclass_rows[("fairness.accuracy_difference", attribute)].value == \
            pytest.approx(frame.difference(), abs=TOL)
        assert multiclass_rows[("fairness.accuracy_ratio", attribute)].value == \
            pytest.approx(frame.ratio(), abs=TOL)


def test_one_vs_rest_rates_and_disparities_per_class_equal_fairlearn(
        multiclass: pd.DataFrame, multiclass_rows: dict) -> None:
    labelled = multiclass[multiclass["y_true"].notna()]
    checked = odds = 0
    for attribute in ATTRIBUTES:
        for c, name in enumerate(CLASSES):
            everyone = multiclass[attribute].astype(str)
            predicted = (multiclass["label"] == c).astype(int)
            selection = flm.MetricFrame(metrics=flm.selection_rate, y_true=predicted,
                                        y_pred=predicted, sensitive_features=everyone)
            y = (labelled["y_true"] == c).astype(int)
            pred = (labelled["label"] == c).astype(int)
            rates = flm.MetricFrame(metrics={"true_positive_rate": flm.true_positive_rate,
                                             "false_positive_rate": flm.false_positive_rate},
                                    y_true=y, y_pred=pred,
                                    sensitive_features=labelled[attribute].astype(str))
            for group, value in selection.by_group.items():
                row = multiclass_rows[("fairness.selection_rate",
                                       f"{attribute}={group}&class={name}")]
                assert row.value == pytest.approx(value, abs=TOL)
                checked += 1
            for rate in ("true_positive_rate", "false_positive_rate"):
                for group, value in rates.by_group[rate].items():
                    row = multiclass_rows[(f"fairness.{rate}", f"{attribute}={group}&class={name}")]
                    if row.value is None:  # fairlearn says 0 where the rate has no rows
                        assert row.n == 0 and row.status == "insufficient_data"
                    else:
                        assert row.value == pytest.approx(value, abs=TOL)
                    checked += 1
            segment = f"{attribute}&class={name}"
            dp = flm.demographic_parity_difference(predicted, predicted,
                                                   sensitive_features=everyone)
            assert multiclass_rows[("fairness.demographic_parity_difference", segment)].value \
                == pytest.approx(dp, abs=TOL)
            defined = [multiclass_rows[(f"fairness.{rate}", f"{attribute}={g}&class={name}")].n
                       for rate in ("true_positive_rate", "false_positive_rate")
                       for g in rates.by_group.index]
            if min(defined) > 0:
                eo = flm.equalized_odds_difference(y, pred,
                                                   sensitive_features=labelled[attribute].astype(str))
                assert multiclass_rows[("fairness.equalized_odds_difference", segment)].value \
                    == pytest.approx(eo, abs=TOL)
                odds += 1
    assert checked == (2 + 5) * len(CLASSES) * 3 and odds > 5


def test_the_attribute_row_of_a_disparity_is_its_worst_class(multiclass_rows: dict) -> None:
    per_class = {name: multiclass_rows[("fairness.selection_rate_ratio", f"sex&class={name}")].value
                 for name in CLASSES}
    worst = multiclass_rows[("fairness.selection_rate_ratio", "sex")]
    assert worst.value == min(per_class.values())
    assert worst.details["class"] == min(per_class, key=per_class.get)
    assert worst.details["per_class"] == per_class
    differences = [multiclass_rows[("fairness.true_positive_rate_difference",
                                    f"race&class={name}")].value for name in CLASSES]
    assert multiclass_rows[("fairness.true_positive_rate_difference", "race")].value == \
        max(v for v in differences if v is not None)


def test_small_groups_are_left_out_of_multiclass_disparities_and_listed(
        multiclass: pd.DataFrame) -> None:
    rows = by_key(FairnessMonitor().run(kind_window(multiclass, "multiclass",
                                                    min_group_size=300)))
    row = rows[("fairness.accuracy_difference", "race")]
    assert "Other" in row.details["insufficient_groups"]
    sufficient = [g["value"] for g in row.details["groups"].values() if g["status"] == "ok"]
    assert row.value == pytest.approx(max(sufficient) - min(sufficient))


def test_regression_group_figures_and_their_disparities_equal_metricframe(
        regression: pd.DataFrame, regression_rows: dict) -> None:
    labelled = regression[regression["y_true"].notna()]
    for attribute in ATTRIBUTES:
        errors = flm.MetricFrame(metrics={"mae": skm.mean_absolute_error,
                                          "rmse": skm.root_mean_squared_error},
                                 y_true=labelled["y_true"], y_pred=labelled["value"],
                                 sensitive_features=labelled[attribute].astype(str))
        means = flm.MetricFrame(metrics={"mean_prediction": flm.mean_prediction},
                                y_true=regression["value"], y_pred=regression["value"],
                                sensitive_features=regression[attribute].astype(str))
        for frame in (errors, means):
            for name in frame.by_group.columns:
                for group, value in frame.by_group[name].items():
                    row = regression_rows[(f"fairness.{name}", f"{attribute}={group}")]
                    assert row.value == pytest.approx(value, rel=1e-9)
                    assert row.ci_low <= row.value <= row.ci_high
                for kind in ("difference", "ratio"):
                    expected = getattr(frame, kind)()[name]
                    row = regression_rows[(f"fairness.{name}_{kind}", attribute)]
                    assert row.value == pytest.approx(expected, rel=1e-9), (name, kind)
                    assert row.ci_low <= row.value <= row.ci_high


def test_bounded_group_loss_is_fairlearn_s_largest_group_squared_loss(
        regression: pd.DataFrame, regression_rows: dict) -> None:
    labelled = regression[regression["y_true"].notna()].reset_index(drop=True)
    for attribute in ATTRIBUTES:
        constraint = BoundedGroupLoss(SquareLoss(-np.inf, np.inf), upper_bound=0.0)
        constraint.load_data(labelled[["age"]], labelled["y_true"],
                             sensitive_features=labelled[attribute].astype(str))
        losses = constraint.gamma(lambda X: labelled["value"].to_numpy())
        row = regression_rows[("fairness.bounded_group_loss", attribute)]
        assert row.value == pytest.approx(losses.max(), rel=1e-9)
        assert row.details["worst_group"] == losses.idxmax()
        assert "SquareLoss" in row.details["loss"]


def test_regression_disparities_with_fewer_than_two_sufficient_groups_have_no_value(
        regression: pd.DataFrame) -> None:
    rows = by_key(FairnessMonitor().run(kind_window(regression, "regression",
                                                    min_group_size=6000)))
    row = rows[("fairness.mae_ratio", "sex")]
    assert (row.value, row.status) == (None, "insufficient_data")
    assert row.details["reason"] == TOO_FEW_GROUPS.format(min_n=6000, rates="mae")
    assert rows[("fairness.mae", "sex=Female")].status == "insufficient_data"


def test_every_multiclass_and_regression_fairness_name_is_in_the_catalog(
        multiclass_rows: dict, regression_rows: dict) -> None:
    names = {metric for metric, _ in [*multiclass_rows, *regression_rows]}
    assert {"fairness.bounded_group_loss", "fairness.mae_ratio", "fairness.accuracy_ratio"} <= names
    assert [n for n in names if metric_info(n) is None] == []
