"""FairnessMonitor: per-group rates and disparities equal fairlearn's on the same rows
(real Adult data and a hand-counted window); small groups are insufficient data."""

from __future__ import annotations

import dataclasses
import json

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

from adult_predictions import adult_predictions, build_window
from raigov.monitors.base import MONITORS, MetricRow
from raigov.monitors.catalog import metric_info
from raigov.monitors.counts import (MISSING_COLUMN, MISSING_GROUP, multinomial_replicates,
                             wilson_interval)
from raigov.monitors.fairness import DISPARITIES, TOO_FEW_GROUPS, FairnessMonitor
from raigov.errors import InputError

TOL = 1e-9
MIN_N = 30
LABEL_RATES = {"true_positive_rate": flm.true_positive_rate,
               "false_positive_rate": flm.false_positive_rate,
               "false_negative_rate": flm.false_negative_rate,
               "accuracy": skm.accuracy_score}
# rate -> which labelled rows its denominator counts (None: every prediction)
DENOMINATOR = {"selection_rate": None, "true_positive_rate": 1.0,
               "false_positive_rate": 0.0, "false_negative_rate": 1.0, "accuracy": "any"}
FAIRLEARN_DISPARITIES = {
    "demographic_parity": (flm.demographic_parity_difference, flm.demographic_parity_ratio),
    "equalized_odds": (flm.equalized_odds_difference, flm.equalized_odds_ratio),
    "equal_opportunity": (flm.equal_opportunity_difference, flm.equal_opportunity_ratio),
}
GROUPINGS = (("sex",), ("race",), ("sex", "race"))


def by_key(rows: list[MetricRow]) -> dict[tuple[str, str], MetricRow]:
    return {(row.metric, row.segment): row for row in rows}


def group_key(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Each row's group as the monitor names it: ``Female`` or ``Female&Black``."""
    key = frame[columns[0]].astype(str)
    for column in columns[1:]:
        key = key + "&" + frame[column].astype(str)
    return key


def rate_rows(frame: pd.DataFrame, rate: str) -> pd.DataFrame:
    """The rows a rate's denominator counts."""
    wanted = DENOMINATOR[rate]
    if wanted is None:
        return frame
    labelled = frame[frame["y_true"].notna()]
    return labelled if wanted == "any" else labelled[labelled["y_true"] == wanted]


def sufficient_groups(frame: pd.DataFrame, columns: tuple[str, ...],
                      rates: tuple[str, ...]) -> set[str]:
    groups = set(group_key(frame, columns))
    for rate in rates:
        sizes = group_key(rate_rows(frame, rate), columns).value_counts()
        groups &= set(sizes[sizes >= MIN_N].index)
    return groups


def fairlearn_function(frame: pd.DataFrame, columns: tuple[str, ...], name: str,
                       ok_groups: set[str]) -> dict[str, float]:
    """fairlearn's own disparity functions on the rows of the sufficient groups."""
    keep = frame[group_key(frame, columns).isin(ok_groups)]
    if name != "demographic_parity":
        keep = keep[keep["y_true"].notna()]
    difference, ratio = FAIRLEARN_DISPARITIES[name]
    args = (keep["y_true"].fillna(0), keep["label"])
    sensitive = keep[list(columns)]
    return {"difference": difference(*args, sensitive_features=sensitive),
            "ratio": ratio(*args, sensitive_features=sensitive)}


def between_groups(by_group: pd.DataFrame, rate: str, ok_groups: set[str]) -> dict[str, float]:
    """MetricFrame.difference / ratio (method between_groups) over the sufficient groups."""
    values = by_group.loc[sorted(ok_groups), rate]
    return {"difference": values.max() - values.min(), "ratio": values.min() / values.max()}


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return adult_predictions()


@pytest.fixture(scope="module")
def adult_rows(adult: pd.DataFrame) -> dict[tuple[str, str], MetricRow]:
    window = build_window(adult, min_group_size=MIN_N, intersections=[("sex", "race")])
    return by_key(FairnessMonitor(seed=11).run(window))


@pytest.fixture(scope="module")
def fairlearn_by_group(adult: pd.DataFrame) -> dict[tuple[str, ...], pd.DataFrame]:
    """fairlearn MetricFrame.by_group per grouping, indexed ``Female`` / ``Female&Black``:
    selection rate and size over every prediction, the other rates over labelled rows."""
    labelled = adult[adult["y_true"].notna()]
    tables = {}
    for columns in GROUPINGS:
        everyone = flm.MetricFrame(
            metrics={"selection_rate": flm.selection_rate, "group_size": flm.count},
            y_true=adult["y_true"].fillna(0), y_pred=adult["label"],
            sensitive_features=adult[list(columns)])
        by_labels = flm.MetricFrame(metrics=LABEL_RATES, y_true=labelled["y_true"],
                                    y_pred=labelled["label"],
                                    sensitive_features=labelled[list(columns)])
        table = everyone.by_group.join(by_labels.by_group)
        table.index = ["&".join(map(str, np.atleast_1d(g))) for g in table.index]
        tables[columns] = table
    return tables


def test_per_group_rates_and_sizes_equal_fairlearns_metric_frame_on_real_adult_data(
        adult_rows: dict[tuple[str, str], MetricRow],
        fairlearn_by_group: dict[tuple[str, ...], pd.DataFrame]) -> None:
    for columns, table in fairlearn_by_group.items():
        for group, expected in table.iterrows():
            segment = "&".join(f"{c}={v}" for c, v in zip(columns, group.split("&")))
            for metric, value in expected.items():
                row = adult_rows[(f"fairness.{metric}", segment)]
                if row.value is None:  # fairlearn reports 0 where the rate is 0/0
                    assert row.n == 0 and row.status == "insufficient_data"
                    continue
                assert row.value == pytest.approx(value, abs=TOL), (metric, segment)


def test_every_disparity_equals_fairlearns_on_the_sufficient_groups(
        adult: pd.DataFrame, adult_rows: dict[tuple[str, str], MetricRow],
        fairlearn_by_group: dict[tuple[str, ...], pd.DataFrame]) -> None:
    excluded_somewhere = False
    for columns, table in fairlearn_by_group.items():
        segment = "&".join(columns)
        for name, rates in DISPARITIES.items():
            expected_ok = sufficient_groups(adult, columns, rates)
            expected = (fairlearn_function(adult, columns, name, expected_ok)
                        if name in FAIRLEARN_DISPARITIES
                        else between_groups(table, name, expected_ok))
            for kind, value in expected.items():
                row = adult_rows[(f"fairness.{name}_{kind}", segment)]
                groups = row.details["groups"]
                assert {g for g, d in groups.items() if d["status"] == "ok"} == expected_ok
                assert set(row.details["insufficient_groups"]) == set(groups) - expected_ok
                excluded_somewhere |= bool(row.details["insufficient_groups"])
                assert row.value == pytest.approx(value, abs=TOL), (name, kind, segment)
    assert excluded_somewhere  # the sex & race intersection has groups below 30


def test_selection_rate_counts_every_prediction_and_label_based_rates_the_labelled_rows(
        adult: pd.DataFrame, adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    female = adult[adult["sex"] == "Female"]
    labelled = female[female["y_true"].notna()]
    assert adult_rows[("fairness.selection_rate", "sex=Female")].n == len(female)
    assert adult_rows[("fairness.group_size", "sex=Female")].value == len(female)
    assert adult_rows[("fairness.accuracy", "sex=Female")].n == len(labelled)
    assert adult_rows[("fairness.true_positive_rate", "sex=Female")].n == int(
        (labelled["y_true"] == 1).sum())
    assert adult_rows[("fairness.demographic_parity_ratio", "sex")].n == len(adult)


def hand_frame() -> pd.DataFrame:
    # group a: y_true 1 1 0 0 0, label 1 0 1 0 0 -> TP 1, FN 1, FP 1, TN 2
    # group b: y_true 1 1 1 0 0, label 1 1 0 0 0 -> TP 2, FN 1, FP 0, TN 2
    return pd.DataFrame({
        "x": np.arange(10.0), "group": ["a"] * 5 + ["b"] * 5,
        "y_true": [1, 1, 0, 0, 0, 1, 1, 1, 0, 0], "label": [1, 0, 1, 0, 0, 1, 1, 0, 0, 0],
        "score": [0.9, 0.1, 0.8, 0.2, 0.3, 0.9, 0.7, 0.4, 0.1, 0.2],
    })


def test_a_hand_counted_window_gives_the_counted_rates_and_disparities() -> None:
    frame = hand_frame()
    window = build_window(frame, features=("x",), sensitive=("group",), min_group_size=1)
    rows = by_key(FairnessMonitor(seed=2).run(window))
    per_group = {  # a: 2/5 selected, TPR 1/2, FPR 1/3, FNR 1/2, accuracy 3/5
        "a": {"selection_rate": 2 / 5, "true_positive_rate": 1 / 2,
              "false_positive_rate": 1 / 3, "false_negative_rate": 1 / 2, "accuracy": 3 / 5},
        "b": {"selection_rate": 2 / 5, "true_positive_rate": 2 / 3,  # b: TPR 2/3, FPR 0
              "false_positive_rate": 0.0, "false_negative_rate": 1 / 3, "accuracy": 4 / 5}}
    for group, rates in per_group.items():
        for rate, value in rates.items():
            assert rows[(f"fairness.{rate}", f"group={group}")].value == pytest.approx(value)
    expected = {"demographic_parity": (0.0, 1.0), "selection_rate": (0.0, 1.0),
                "true_positive_rate": (1 / 6, 0.75), "equal_opportunity": (1 / 6, 0.75),
                "false_positive_rate": (1 / 3, 0.0), "equalized_odds": (1 / 3, 0.0),
                "false_negative_rate": (1 / 6, 2 / 3), "accuracy": (1 / 5, 3 / 4)}
    for name, (difference, ratio) in expected.items():
        assert rows[(f"fairness.{name}_difference", "group")].value == pytest.approx(difference)
        assert rows[(f"fairness.{name}_ratio", "group")].value == pytest.approx(ratio)
    assert flm.equalized_odds_difference(frame["y_true"], frame["label"],
                                         sensitive_features=frame["group"]) == pytest.approx(1 / 3)


def small_group_frame(sizes: dict[str, int]) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    groups = np.repeat(list(sizes), list(sizes.values()))
    y_true = rng.integers(0, 2, len(groups)).astype(float)
    label = np.where(groups == "tiny", 1, rng.integers(0, 2, len(groups)))
    return pd.DataFrame({"x": rng.random(len(groups)), "group": groups, "y_true": y_true,
                         "label": label, "score": rng.random(len(groups))})


def test_a_group_of_five_rows_is_insufficient_data_not_a_fairness_failure() -> None:
    frame = small_group_frame({"big": 200, "other": 200, "tiny": 5})
    window = build_window(frame, features=("x",), sensitive=("group",), min_group_size=30)
    rows = by_key(FairnessMonitor().run(window))
    size = rows[("fairness.group_size", "group=tiny")]
    assert (size.value, size.status) == (5, "insufficient_data")
    assert rows[("fairness.selection_rate", "group=tiny")].status == "insufficient_data"
    parity = rows[("fairness.demographic_parity_ratio", "group")]
    assert parity.status == "ok"
    assert parity.details["groups"]["tiny"] == {"value": 1.0, "n": 5,
                                                "status": "insufficient_data"}
    assert parity.details["insufficient_groups"] == ["tiny"]
    without_tiny = frame[frame["group"] != "tiny"]
    assert parity.value == pytest.approx(flm.demographic_parity_ratio(
        without_tiny["y_true"], without_tiny["label"],
        sensitive_features=without_tiny["group"]), abs=TOL)


def test_with_fewer_than_two_sufficient_groups_every_disparity_has_no_value() -> None:
    frame = small_group_frame({"big": 200, "tiny": 5})
    window = build_window(frame, features=("x",), sensitive=("group",), min_group_size=30)
    rows = by_key(FairnessMonitor().run(window))
    for name, rates in DISPARITIES.items():
        for kind in ("difference", "ratio"):
            row = rows[(f"fairness.{name}_{kind}", "group")]
            assert (row.value, row.status) == (None, "insufficient_data")
            assert row.details["reason"] == TOO_FEW_GROUPS.format(min_n=30,
                                                                  rates=", ".join(rates))
            assert set(row.details["groups"]) == {"big", "tiny"}


def test_a_missing_sensitive_value_is_its_own_group() -> None:
    frame = small_group_frame({"big": 60, "other": 60})
    frame.loc[:39, "group"] = None
    window = build_window(frame, features=("x",), sensitive=("group",), min_group_size=30)
    rows = by_key(FairnessMonitor().run(window))
    assert rows[("fairness.group_size", f"group={MISSING_GROUP}")].value == 40
    assert rows[("fairness.group_size", "group=big")].value == 20


def test_every_interval_contains_its_estimate(
        adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    for key, row in adult_rows.items():
        if row.value is not None and key[0] != "fairness.group_size":
            assert row.ci_low <= row.value <= row.ci_high, key


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_intervals(
        adult: pd.DataFrame) -> None:
    window = build_window(adult.iloc[:3000], bootstrap=50)
    first = FairnessMonitor(seed=1).run(window)
    assert FairnessMonitor(seed=1).run(window) == first
    key = ("fairness.demographic_parity_difference", "sex")
    assert by_key(FairnessMonitor(seed=2).run(window))[key].ci_low != by_key(first)[key].ci_low


def test_multinomial_replicates_keep_the_total_and_average_to_the_observed_cells() -> None:
    counts = np.array([[50, 5, 10, 35, 20, 3], [400, 40, 60, 100, 0, 7]])
    draws = multinomial_replicates(counts, replicates=4000, rng=np.random.default_rng(0))
    assert draws.shape == (4000, 2, 6)
    assert (draws.sum(axis=(1, 2)) == counts.sum()).all()
    assert draws.mean(axis=0) == pytest.approx(counts, rel=0.05, abs=0.5)


def test_wilson_interval_matches_the_textbook_value() -> None:
    # 8 of 10 at 95 %: (0.4902, 0.9433), e.g. Newcombe (1998), table I
    low, high = wilson_interval(8, 10, confidence=0.95)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_every_emitted_name_is_in_the_catalog_and_details_are_json(
        adult_rows: dict[tuple[str, str], MetricRow]) -> None:
    for (metric, _), row in adult_rows.items():
        assert metric_info(metric) is not None, metric
        json.dumps(row.details)


def test_the_monitor_is_registered_under_its_family() -> None:
    assert MONITORS["fairness"] is FairnessMonitor


def test_an_empty_window_gives_insufficient_disparities_and_no_groups() -> None:
    window = build_window(hand_frame(), features=("x",), sensitive=("group",))
    rows = FairnessMonitor().run(dataclasses.replace(window, frame=hand_frame().iloc[:0]))
    assert {row.status for row in rows} == {"insufficient_data"}
    assert not [row for row in rows if row.segment.startswith("group=")]


def test_a_sensitive_column_missing_from_the_window_is_named_with_a_close_match() -> None:
    window = build_window(hand_frame(), features=("x",), sensitive=("group",))
    frame = hand_frame().rename(columns={"group": "groups"})
    with pytest.raises(InputError) as caught:
        FairnessMonitor().run(dataclasses.replace(window, frame=frame))
    columns = list(frame.columns)
    assert str(caught.value) == (MISSING_COLUMN.format(column="group", columns=columns)
                                 + " Did you mean 'groups'?")
