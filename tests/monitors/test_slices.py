"""The ``slices`` family on real Adult rows: a planted weak slice is found first, the
false discovery rate on data without one stays under alpha, and every p-value is the
one statsmodels computes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from adult_predictions import adult_predictions, build_window
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from raigov.models.datasets import load_adult
from raigov.models.spec import SlicesConfig
from raigov.monitors.base import WindowData
from raigov.monitors.slices import search_slices, slice_rows

ALPHA = 0.05


def window_of(frame: pd.DataFrame, reference: pd.DataFrame | None = None,
              features: tuple[str, ...] | None = None, sensitive: tuple[str, ...] | None = None,
              **slices) -> WindowData:
    shape = {"features": features, "sensitive": sensitive}
    window = build_window(frame, **{k: v for k, v in shape.items() if v is not None})
    monitoring = window.spec.monitoring.model_copy(update={"slices": SlicesConfig(**slices)})
    spec = window.spec.model_copy(update={"monitoring": monitoring})
    return dataclasses.replace(window, spec=spec,
                               reference=frame.iloc[:0] if reference is None else reference)


def test_p_values_and_adjustment_are_statsmodels_own_on_a_hand_built_case() -> None:
    # 3 colours x 80 rows, errors 40 / 12 / 8 (hand counts); one binary sensitive column
    colour = np.repeat(["red", "green", "blue"], 80)
    errors = np.concatenate([np.arange(80) < 40, np.arange(80) < 12, np.arange(80) < 8])
    frame = pd.DataFrame({"colour": colour, "sex": np.tile(["F", "M"], 120),
                          "y_true": 1.0, "label": np.where(errors, 0, 1)})
    tests = search_slices(window_of(frame, features=("colour",), sensitive=("sex",), rates=("error_rate",),
                                    min_size=20))
    assert len(tests) == 3 + 2 + 6   # colours, sexes, colour x sex cells of 40 rows
    for row in tests.itertuples():
        _, expected = proportions_ztest([row.slice_events, row.rest_events],
                                        [row.slice_size, row.rest_size], alternative="larger")
        assert row.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)
    adjusted = multipletests(tests["p_value"], method="fdr_bh")[1]
    np.testing.assert_allclose(tests["p_adjusted"], adjusted, rtol=1e-12)
    red = tests.set_index("segment").loc["colour=red"]
    assert (red.slice_size, red.slice_events, red.rest_events) == (80, 40, 20)
    assert red.effect == pytest.approx(40 / 80 - 20 / 160)


def test_a_planted_occupation_by_age_band_slice_is_found_first() -> None:
    frame = adult_predictions().reset_index(drop=True)
    reference = load_adult("train")
    low, high = np.quantile(reference["age"], [0.5, 0.75])   # the 3rd of 4 age bins
    planted = ((frame["occupation"] == "Exec-managerial") & (frame["age"] >= low)
               & (frame["age"] < high) & frame["y_true"].notna()).fillna(False).astype(bool)
    assert planted.sum() > 400
    frame.loc[planted, "y_true"] = 1 - frame.loc[planted, "y_true"]
    expected = f"age=[{low:g},{high:g})&occupation=Exec-managerial"
    for rates in (("error_rate",), ("error_rate", "false_positive_rate", "false_negative_rate")):
        rows = slice_rows(window_of(frame, reference, rates=rates))
        worst = [r for r in rows if r.metric == "slices.worst"]
        assert worst and worst[0].segment == expected, rates
        assert worst[0].details["rank"] == 1 and worst[0].details["p_adjusted"] < 1e-10
    # figures of the error-rate run, recounted by hand
    rows = slice_rows(window_of(frame, reference, rates=("error_rate",)))
    top = next(r for r in rows if r.metric == "slices.worst")
    labelled = frame[frame["y_true"].notna()]
    wrong = labelled["label"] != labelled["y_true"]
    inside = planted[labelled.index]
    assert top.n == inside.sum()
    assert top.value == pytest.approx(wrong[inside].mean() - wrong[~inside].mean())


def test_the_false_discovery_rate_stays_under_alpha_on_data_without_a_weak_slice() -> None:
    """Errors drawn at random (independent of every column) on real Adult rows: every
    discovery is false. Over 20 seeds the FDR (here also the family-wise rate) is <= alpha."""
    base = adult_predictions().iloc[:4000].copy()
    proportions, tested, raw = [], [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        frame = base.copy()
        flip = rng.random(len(frame)) < 0.2
        frame["y_true"] = np.where(flip, 1 - frame["label"], frame["label"]).astype(float)
        tests = search_slices(window_of(frame, rates=("error_rate",), alpha=ALPHA))
        tested.append(len(tests))
        found = int(tests["significant"].sum())
        proportions.append(1.0 if found else 0.0)   # V / R with V = R
        raw.append(float((tests["p_value"] < ALPHA).mean()))
    assert min(tested) > 300
    assert np.mean(proportions) <= ALPHA
    assert 0.03 <= np.mean(raw) <= 0.07   # the z-test itself is calibrated under the null


def test_no_labels_is_insufficient_data_and_regression_is_not_served() -> None:
    from raigov.monitors.slices import NO_LABELLED, SlicesMonitor

    frame = adult_predictions().iloc[:200].copy()
    frame["y_true"] = np.nan
    rows = slice_rows(window_of(frame))
    assert [(r.metric, r.status, r.details["reason"]) for r in rows] == [
        ("slices.count_significant", "insufficient_data", NO_LABELLED)]
    assert "regression" not in SlicesMonitor.output_kinds


def test_the_dashboard_table_lists_the_slices_by_rank_as_text() -> None:
    from raigov.dashboard.sections.slices import COLUMNS, weak_slices

    frame = adult_predictions().iloc[:3000].copy()
    rows = slice_rows(window_of(frame, rates=("error_rate",), top=3))
    worst = [r for r in rows if r.metric == "slices.worst"]
    assert len(worst) == 3
    metrics = pd.DataFrame([{"metric": r.metric, "segment": r.segment, "value": r.value,
                             "n": r.n, "details": r.details} for r in reversed(rows)])
    table = weak_slices(metrics)
    assert list(table.columns) == COLUMNS
    assert table["slice"].tolist() == [r.segment for r in worst]
    assert table["rank"].tolist() == [1, 2, 3]
    assert all(isinstance(v, str) for v in table["effect"]) and len(table) == 3
