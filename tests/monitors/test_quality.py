"""The quality monitor: rates by hand count, and failure cases equal to pandera's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from raigov.monitors.base import MONITORS, MetricRow
from raigov.monitors.catalog import metric_info
from raigov.monitors.quality import (MISSING_COLUMN, NO_ROWS, QualityMonitor, failure_cases,
                              validate_frame)
from tests.monitors.drift_fixtures import adult_predictions, adult_spec, make_window

CASE_COLUMNS = ["schema_context", "column", "check", "check_number", "failure_case", "index"]


def _rows(rows: list[MetricRow]) -> dict[tuple[str, str], MetricRow]:
    return {(row.metric, row.segment): row for row in rows}


def _complete_rows(n: int) -> pd.DataFrame:
    df = adult_predictions()
    return df[df[["workclass", "occupation", "native_country"]].notna().all(axis=1)].head(n)


def _normalised(cases: pd.DataFrame) -> list[tuple]:
    """Failure cases as comparable tuples (missing markers and number types unified)."""
    def plain(value: object) -> object:
        if value is None or (np.ndim(value) == 0 and pd.isna(value)):
            return None
        return float(value) if isinstance(value, (int, float, np.number)) else str(value)

    records = cases[CASE_COLUMNS].astype(object).to_numpy().tolist()
    return sorted((tuple(plain(v) for v in record) for record in records), key=repr)


def test_monitor_is_registered_and_emits_catalog_metrics() -> None:
    assert MONITORS["quality"] is QualityMonitor
    rows = QualityMonitor().run(make_window(adult_spec(), _complete_rows(50), _complete_rows(5)))
    assert all(metric_info(row.metric) is not None for row in rows)


def test_rates_equal_a_hand_count_on_a_small_frame() -> None:
    frame = _complete_rows(10).reset_index(drop=True)
    frame.loc[1, "sex"] = None                 # missing in a non-nullable column
    frame.loc[3, "native_country"] = "Atlantis"  # unknown category ...
    frame.loc[3, "hours_per_week"] = 500       # ... and out of range in the same row
    frame.loc[5, "workclass"] = None           # missing in a nullable column: no violation
    frame.loc[7, "age"] = 10                   # below the registered minimum of 17
    frame.loc[[0, 2], "y_true"] = np.nan
    rows = _rows(QualityMonitor().run(make_window(adult_spec(), frame, frame)))

    assert rows[("quality.rows", "all")].value == 10
    assert rows[("quality.missing_rate", "all")].value == pytest.approx(2 / (10 * 14))
    assert rows[("quality.missing_rate", "column=sex")].value == pytest.approx(0.1)
    assert rows[("quality.missing_rate", "column=workclass")].value == pytest.approx(0.1)
    assert rows[("quality.missing_rate", "column=age")].value == 0.0
    violation = rows[("quality.schema_violation_rate", "all")]
    assert violation.value == pytest.approx(3 / 10)  # rows 1, 3 and 7
    assert violation.details["failures"] == {
        "sex": {"not_nullable": 1}, "native_country": {"isin": 1},
        "hours_per_week": {"less_than_or_equal_to": 1}, "age": {"greater_than_or_equal_to": 1}}
    assert violation.details["examples"]["native_country"] == {"isin": ["Atlantis"]}
    assert violation.details["examples"]["hours_per_week"] == {"less_than_or_equal_to": [500]}
    for column, expected, present in (("hours_per_week", 0.1, 10), ("native_country", 0.1, 10),
                                      ("age", 0.1, 10), ("sex", 0.0, 9), ("workclass", 0.0, 9)):
        row = rows[("quality.out_of_range_rate", f"column={column}")]
        assert (row.value, row.n) == (pytest.approx(expected), present), column
    assert rows[("quality.label_coverage", "all")].value == pytest.approx(0.8)


def _troubled_frame() -> pd.DataFrame:
    """3,000 Adult rows with every kind of failure the schema can find, shuffled index."""
    frame = _complete_rows(3000).sample(frac=1.0, random_state=0)
    rng = np.random.default_rng(0)
    pick = lambda k: rng.choice(len(frame), size=k, replace=False)  # noqa: E731
    frame["age"] = frame["age"].astype(float)
    frame.iloc[pick(3), frame.columns.get_loc("age")] = np.nan
    frame["fnlwgt"] = frame["fnlwgt"].astype(float)
    frame["workclass"] = frame["workclass"].astype(object)
    frame.iloc[pick(2), frame.columns.get_loc("workclass")] = 5
    frame.iloc[pick(40), frame.columns.get_loc("education")] = "Kindergarten"
    frame.iloc[pick(30), frame.columns.get_loc("hours_per_week")] = 0
    frame.iloc[pick(30), frame.columns.get_loc("hours_per_week")] = 168
    frame.iloc[pick(25), frame.columns.get_loc("capital_gain")] = 10**6
    frame.iloc[pick(7), frame.columns.get_loc("relationship")] = None
    frame["occupation"] = frame["occupation"].astype("string")
    frame.iloc[pick(11), frame.columns.get_loc("occupation")] = "Astronaut"
    return frame.drop(columns=["marital_status"])


def test_vectorised_failure_cases_equal_panderas_lazy_validation() -> None:
    frame, spec = _troubled_frame(), adult_spec()
    ours = failure_cases(validate_frame(frame, spec.inputs).failures)
    with pytest.raises(pa.errors.SchemaErrors) as errors:
        spec.inputs.to_pandera().validate(frame.reset_index(drop=True), lazy=True)
    theirs = errors.value.failure_cases
    assert len(theirs) > 150
    assert _normalised(ours) == _normalised(theirs)


def test_pandera_engine_gives_the_same_rows_as_the_vectorised_engine() -> None:
    frame, spec = _troubled_frame(), adult_spec()
    window = make_window(spec, frame, frame)
    fast, slow = QualityMonitor().run(window), QualityMonitor(engine="pandera").run(window)
    assert [(r.metric, r.segment, r.value, r.n, r.status) for r in fast] == [
        (r.metric, r.segment, r.value, r.n, r.status) for r in slow]
    rows = _rows(fast)
    assert rows[("quality.schema_violation_rate", "all")].value == 1.0  # marital_status absent
    assert rows[("quality.missing_rate", "column=marital_status")].value == 1.0
    missing = rows[("quality.out_of_range_rate", "column=marital_status")]
    assert missing.status == "error"
    assert missing.details["reason"] == MISSING_COLUMN.format(column="marital_status")
    education = rows[("quality.out_of_range_rate", "column=education")]
    assert education.value == pytest.approx(40 / 3000)


def test_a_clean_window_has_no_violations() -> None:
    frame = _complete_rows(2000)
    rows = _rows(QualityMonitor().run(make_window(adult_spec(), frame, frame)))
    assert rows[("quality.schema_violation_rate", "all")].value == 0.0
    assert rows[("quality.schema_violation_rate", "all")].details["failures"] == {}
    assert rows[("quality.missing_rate", "all")].value == 0.0


def test_an_empty_window_reports_insufficient_data_rather_than_zero_rates() -> None:
    frame = _complete_rows(5).iloc[:0]
    rows = _rows(QualityMonitor().run(make_window(adult_spec(), frame, frame)))
    assert rows[("quality.rows", "all")].value == 0
    for metric in ("quality.missing_rate", "quality.schema_violation_rate",
                   "quality.label_coverage"):
        assert rows[(metric, "all")].status == "insufficient_data"
        assert rows[(metric, "all")].details["reason"] == NO_ROWS
