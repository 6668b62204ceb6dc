"""The drift monitor: Evidently's verdicts and scores, fast path against Evidently itself."""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pytest

from raigov.models.spec import DriftOverride
from raigov.monitors.base import MONITORS, MetricRow
from raigov.monitors.catalog import metric_info
from raigov.monitors.drift import (MISSING_IN_WINDOW, NO_VALUES, NOT_NUMBERS, DriftMonitor,
                            drift_report_html)
from raigov.monitors.drift_fast import METHOD_NOT_FOR_KIND
from raigov.monitors.reference_profile import (BAD_PROFILE_FORMAT, MAX_EXACT_TOO_SMALL, PROFILE_FORMAT,
                                        build_reference_profile)
from raigov.errors import ConfigError
from tests.monitors.drift_fixtures import (FEATURES, SENSITIVE, adult_spec, evidently_drift,
                                           halves, make_window)

COLUMNS = list(dict.fromkeys(FEATURES + SENSITIVE)) + ["score"]
ORACLE_ROWS = 10_000  # rows per side where Evidently's own report runs


def _by_metric(rows: list[MetricRow]) -> dict[str, MetricRow]:
    return {row.metric: row for row in rows}


def _column_of(metric: str) -> str:
    return "score" if metric == "drift.prediction" else metric.removeprefix("drift.feature.")


def _assert_matches_evidently(rows: list[MetricRow], oracle: dict[str, dict[str, Any]], *,
                              rel: float) -> None:
    tested = [r for r in rows if r.metric.startswith("drift.feature.")
              or r.metric == "drift.prediction"]
    assert sorted(_column_of(r.metric) for r in tested) == sorted(oracle)
    for row in tested:
        expected = oracle[_column_of(row.metric)]
        assert row.details["drifted"] == expected["drifted"], row.metric
        assert expected["method"] in (row.details["method"], row.details["method_label"])
        assert math.isclose(row.value, expected["score"], rel_tol=rel, abs_tol=1e-300), (
            row.metric, row.value, expected["score"])


@lru_cache(maxsize=1)
def _halves_oracle() -> dict[str, dict[str, Any]]:
    reference, current = halves(rows=ORACLE_ROWS)
    return evidently_drift(reference, current, COLUMNS)


def _shifted(rows: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference, current = halves(seed=1, rows=rows)
    return reference, current.assign(age=current["age"] + 15)


def test_monitor_is_registered_and_emits_catalog_metrics() -> None:
    assert MONITORS["drift"] is DriftMonitor
    reference, current = halves()
    rows = DriftMonitor().run(make_window(adult_spec(), current.head(2000), reference))
    assert all(metric_info(row.metric) is not None for row in rows)
    assert {"drift.share_drifted", "drift.dataset_drift", "drift.prediction"} <= {
        row.metric for row in rows}


@pytest.mark.parametrize("engine", ["fast", "evidently"])
def test_fifteen_years_added_to_age_is_found_as_the_only_drifted_feature(engine: str) -> None:
    reference, current = _shifted(rows=ORACLE_ROWS)
    rows = DriftMonitor(engine=engine).run(make_window(adult_spec(), current, reference))
    drifted = [r.metric for r in rows if r.metric.startswith("drift.feature.")
               and r.details["drifted"]]
    assert drifted == ["drift.feature.age"]
    age = _by_metric(rows)["drift.feature.age"]
    assert age.details["method"] == "wasserstein" and age.details["stattest_kind"] == "distance"
    assert age.value > 1.0  # 15 years over a reference std of ~13.7 years
    share = _by_metric(rows)["drift.share_drifted"]
    assert share.value == pytest.approx(1 / 14) and share.details["drifted_columns"] == ["age"]
    assert _by_metric(rows)["drift.dataset_drift"].value == 0.0


def test_two_random_halves_of_adult_show_no_drift() -> None:
    reference, current = halves()
    rows = DriftMonitor().run(make_window(adult_spec(), current, reference))
    features = [r for r in rows if r.metric.startswith("drift.feature.")]
    assert len(features) == 14 and not any(r.details["drifted"] for r in features)
    assert _by_metric(rows)["drift.share_drifted"].value == 0.0
    assert _by_metric(rows)["drift.dataset_drift"].value == 0.0
    assert not _by_metric(rows)["drift.prediction"].details["drifted"]


def test_fast_path_equals_evidently_on_adult_halves_with_a_large_reference() -> None:
    reference, current = halves(rows=ORACLE_ROWS)
    spec = adult_spec()
    profile = json.loads(json.dumps(build_reference_profile(reference, spec=spec)))
    rows = DriftMonitor().run(make_window(spec, current, reference, profile=profile))
    _assert_matches_evidently(rows, _halves_oracle(), rel=1e-9)
    methods = {r.details["method"] for r in rows if "method" in r.details}
    assert methods == {"wasserstein", "jensenshannon"}


def test_fast_path_from_quantiles_stays_within_one_percent_of_evidently() -> None:
    reference, current = halves(rows=ORACLE_ROWS)
    spec = adult_spec()
    profile = build_reference_profile(reference, spec=spec, max_exact=1000, quantiles=10_000)
    assert all("quantiles" in profile["columns"][c] for c in ("fnlwgt", "score"))
    rows = DriftMonitor().run(make_window(spec, current, reference, profile=profile))
    _assert_matches_evidently(rows, _halves_oracle(), rel=0.01)


def test_fast_path_equals_evidently_with_a_reference_of_at_most_1000_rows() -> None:
    reference, current = halves(seed=2)
    reference, current = reference.head(800), current.head(6000)
    rows = DriftMonitor().run(make_window(adult_spec(), current, reference))
    _assert_matches_evidently(rows, evidently_drift(reference, current, COLUMNS), rel=1e-9)
    methods = {r.details["method"] for r in rows if "method" in r.details}
    assert methods == {"ks", "chisquare", "z"}
    assert _by_metric(rows)["drift.feature.sex"].details["stattest_kind"] == "p_value"


def test_both_engines_honour_method_and_threshold_overrides() -> None:
    drift = {"age": DriftOverride(method="psi"),            # Evidently-only method
             "education_num": DriftOverride(method="ks"),   # large-sample K-S, fast path
             "workclass": DriftOverride(threshold=0.001),   # default method, new threshold
             "sex": DriftOverride(method="chisquare", threshold=0.5),
             "score": DriftOverride(method="jensenshannon", threshold=0.2)}
    spec = adult_spec(features=("age", "education_num", "workclass", "hours_per_week"),
                      sensitive=("sex",), drift=drift)
    reference, current = halves(seed=3, rows=ORACLE_ROWS)
    window = make_window(spec, current, reference)
    fast = _by_metric(DriftMonitor().run(window))
    slow = _by_metric(DriftMonitor(engine="evidently").run(window))
    expected = {"drift.feature.age": ("psi", 0.1), "drift.feature.education_num": ("ks", 0.05),
                "drift.feature.workclass": ("jensenshannon", 0.001),
                "drift.feature.sex": ("chisquare", 0.5),
                "drift.prediction": ("jensenshannon", 0.2),
                "drift.feature.hours_per_week": ("wasserstein", 0.1)}
    for metric, (method, threshold) in expected.items():
        for rows in (fast, slow):
            assert (rows[metric].details["method"], rows[metric].details["threshold"]) == (
                method, threshold), metric
        assert fast[metric].details["drifted"] == slow[metric].details["drifted"], metric
        assert fast[metric].value == pytest.approx(slow[metric].value, rel=1e-9), metric
    assert fast["drift.feature.workclass"].details["drifted"]  # JS ~0.007 >= 0.001


def test_dataset_drift_follows_the_models_drift_share_threshold() -> None:
    reference, current = _shifted()
    spec = adult_spec(drift_share_threshold=0.05)
    rows = _by_metric(DriftMonitor().run(make_window(spec, current, reference)))
    assert rows["drift.dataset_drift"].value == 1.0
    assert rows["drift.dataset_drift"].details["drift_share_threshold"] == 0.05


@pytest.mark.parametrize("engine", ["fast", "evidently"])
def test_a_missing_empty_or_non_numeric_column_is_reported_not_passed(engine: str) -> None:
    reference, current = halves(rows=2000)
    current = current.drop(columns=["fnlwgt"]).assign(
        occupation=None, hours_per_week=current["hours_per_week"].astype(str) + "h")
    rows = _by_metric(DriftMonitor(engine=engine).run(
        make_window(adult_spec(), current, reference)))
    assert rows["drift.feature.fnlwgt"].status == "error"
    assert rows["drift.feature.fnlwgt"].details["reason"] == MISSING_IN_WINDOW.format(
        column="fnlwgt")
    assert rows["drift.feature.occupation"].status == "insufficient_data"
    assert rows["drift.feature.occupation"].details["reason"] == NO_VALUES.format(
        column="occupation", side="window")
    assert rows["drift.feature.hours_per_week"].status == "error"
    assert rows["drift.feature.hours_per_week"].details["reason"].startswith(
        NOT_NUMBERS.format(column="hours_per_week", error=""))
    assert rows["drift.share_drifted"].details["tested_columns"] == 11


def test_a_method_that_does_not_fit_the_column_kind_is_a_config_error() -> None:
    spec = adult_spec(features=("age", "workclass"), sensitive=(),
                      drift={"workclass": DriftOverride(method="wasserstein")})
    reference, current = halves()
    with pytest.raises(ConfigError) as error:
        DriftMonitor().run(make_window(spec, current, reference))
    assert str(error.value) == METHOD_NOT_FOR_KIND.format(
        method="wasserstein", column="workclass", kind="categorical", allowed="numerical")


def test_profile_is_json_with_a_format_and_rejects_other_formats() -> None:
    reference, current = halves()
    spec = adult_spec()
    profile = build_reference_profile(reference, spec=spec)
    assert profile["format"] == PROFILE_FORMAT and profile["rows"] == len(reference)
    assert set(profile["columns"]) == set(COLUMNS)
    assert profile["columns"]["workclass"]["missing"] == int(reference["workclass"].isna().sum())
    with pytest.raises(ConfigError) as error:
        DriftMonitor().run(make_window(spec, current, reference,
                                       profile={**profile, "format": "other/9"}))
    assert str(error.value) == BAD_PROFILE_FORMAT.format(found="other/9",
                                                         expected=PROFILE_FORMAT)
    with pytest.raises(ConfigError) as error:
        build_reference_profile(reference, spec=spec, max_exact=10)
    assert str(error.value) == MAX_EXACT_TOO_SMALL.format(value=10, minimum=1000)


def test_drift_report_html_is_evidentlys_standalone_page() -> None:
    reference, current = _shifted()
    spec = adult_spec(features=("age", "workclass"), sensitive=("sex",))
    html = drift_report_html(make_window(spec, current, reference), max_rows=2000)
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:500].lower()
    assert "age" in html and "workclass" in html and len(html) > 10_000


def test_infinite_values_are_dropped_as_evidently_does() -> None:
    reference, current = halves()
    current = current.assign(score=np.where(np.arange(len(current)) < 50, np.inf,
                                            current["score"]))
    spec = adult_spec(features=("age",), sensitive=())
    rows = _by_metric(DriftMonitor().run(make_window(spec, current, reference)))
    oracle = evidently_drift(reference, current, ["age", "score"])
    assert rows["drift.prediction"].n == len(current) - 50
    assert rows["drift.prediction"].value == pytest.approx(oracle["score"]["score"], rel=1e-9)


def test_the_evidently_report_gets_values_back_without_a_script_breakout() -> None:
    from raigov.monitors.report_safety import safe_report_html
    from raigov.monitors.base import WindowData

    hostile = "</script><script>alert(1)</script>"
    frame = pd.DataFrame({"purpose": [hostile, "car", "a & b"]})
    window = WindowData(spec=None, version=1,  # type: ignore[arg-type]
                        start=dt.datetime(2026, 1, 1), end=dt.datetime(2026, 1, 2),
                        frame=frame, reference=frame.head(2))

    def render(w: WindowData) -> str:   # what Evidently does: JSON inside a script
        return "<script>var data = " + json.dumps(w.frame["purpose"].tolist()) + ";</script>"

    html = safe_report_html(window, render)
    assert html.count("<script>") == 1 and html.count("</script>") == 1
    body = html.removeprefix("<script>var data = ").removesuffix(";</script>")
    assert json.loads(body) == [hostile, "car", "a & b"]


def test_a_move_of_a_third_of_a_standard_deviation_is_three_times_the_threshold() -> None:
    from scipy.stats import wasserstein_distance

    reference, current = halves(rows=3000)
    current = current.assign(age=current["age"] + 0.3 * reference["age"].std())
    rows = DriftMonitor().run(make_window(adult_spec(), current, reference))
    ratios = {r.segment: r for r in rows if r.metric == "drift.score_ratio"}
    assert len(ratios) == 14 and ratios["column=age"].details["method"] == "wasserstein"
    normed = wasserstein_distance(reference["age"], current["age"]) / np.std(reference["age"])
    assert ratios["column=age"].value == pytest.approx(normed / 0.1, rel=0.02)
    assert 2.5 < ratios["column=age"].value < 4.0, "past the column-drift rule's 2.5"
    others = [r.value for s, r in ratios.items() if s != "column=age"]
    assert max(others) < 2.0, "random halves stay well within every column's threshold"


def test_a_p_value_ratio_is_one_at_the_threshold_and_two_at_its_square() -> None:
    from raigov.monitors.drift import _ratio_row
    from raigov.monitors.drift_fast import ColumnDrift

    def ratio(p: float) -> float:
        return _ratio_row(ColumnDrift("age", "numerical", "ks", "K-S", "p_value", 0.05, p,
                                      p < 0.05, 100, 100)).value

    assert ratio(0.05) == pytest.approx(1.0) and ratio(0.0025) == pytest.approx(2.0)
    assert ratio(0.0) == pytest.approx(math.log(1e-300) / math.log(0.05))
