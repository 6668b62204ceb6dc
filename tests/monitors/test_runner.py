"""The monitor runner over a real home: which windows it computes, and idempotence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from raigov.models.capture.logger import PredictionLogger
from raigov.monitors.runner import pending_windows, run_monitors
from raigov.monitors.store import read_metric_rows
from raigov.home import Home

MODEL = "credit-risk"
DAY1, DAY2 = dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc), dt.datetime(2026, 5, 5, 10, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def credit():
    from raigov.models.demo_models import build_demo_model

    return build_demo_model(MODEL, seed=0)


@pytest.fixture
def home_with_traffic(tmp_path: Path, credit) -> tuple[Home, list[str]]:
    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model

    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", credit.trained)
    spec = credit.spec.model_copy(update={"monitoring": credit.spec.monitoring.model_copy(
        update={"explain_sample": 50})})
    register_model(home, spec, artifact=tmp_path / "artifact", reference=credit.reference)
    rows = credit.heldout[list(spec.input_columns)]
    ids: list[str] = []
    with PredictionLogger(MODEL, home=home) as log:
        for day, part in ((DAY1, rows.iloc[:150]), (DAY2, rows.iloc[150:])):
            scores = np.linspace(0.05, 0.95, len(part))
            result = log.log_predictions(part, labels=(scores >= .5).astype(int), scores=scores,
                                         timestamp=day)
            ids += result.prediction_ids
        log.log_feedback(ids[:100], credit.heldout["y_true"].iloc[:100].tolist())
    return home, ids


def test_every_window_with_traffic_is_computed_once(home_with_traffic) -> None:
    home, _ = home_with_traffic
    first = run_monitors(home, families=("quality", "performance", "fairness"))
    assert [(r.key.start.date().isoformat(), r.key.rows, r.key.labelled) for r in first] == [
        ("2026-05-04", 150, 100), ("2026-05-05", 150, 0)]
    assert run_monitors(home, families=("quality", "performance", "fairness")) == []
    rows = read_metric_rows(home, model=MODEL, metric_prefix="quality.rows")
    assert sorted(rows["value"].tolist()) == [150.0, 150.0]


def test_a_window_whose_labels_grew_is_recomputed_and_its_rows_replaced(home_with_traffic, credit) -> None:
    home, ids = home_with_traffic
    run_monitors(home, families=("performance",))
    before = read_metric_rows(home, model=MODEL)
    with PredictionLogger(MODEL, home=home) as log:
        log.log_feedback(ids[150:200], credit.heldout["y_true"].iloc[150:200].tolist())
    pending = pending_windows(home, MODEL, window="1d")
    assert [(k.start.date().isoformat(), k.labelled) for k in pending] == [("2026-05-05", 50)]
    run_monitors(home, families=("performance",))
    after = read_metric_rows(home, model=MODEL)
    assert len(after) == len(before), "recomputing replaces a window's rows, never duplicates"
    day2 = after[(after["metric"] == "performance.accuracy") & (after["segment"] == "all")
                 & (after["window_start"].dt.day == 5)]
    assert day2["status"].tolist() == ["ok"] and day2["n"].tolist() == [50]


def test_a_crashing_family_is_an_error_row_not_a_silent_gap(home_with_traffic, monkeypatch) -> None:
    from raigov.monitors.performance import PerformanceMonitor

    def boom(self, window):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(PerformanceMonitor, "run", boom)
    home, _ = home_with_traffic
    results = run_monitors(home, families=("performance",))
    errors = read_metric_rows(home, model=MODEL, metric_prefix="monitor.error")
    assert len(results) == 2 and len(errors) == 2
    assert set(errors["segment"]) == {"performance"} and set(errors["status"]) == {"error"}
    assert "disk on fire" in errors["details"].iloc[0]["error"]


def test_discovery_scans_only_changed_partitions_and_still_sees_late_labels(
        home_with_traffic, credit) -> None:
    from raigov.monitors.runner import _Plan
    from raigov.store.lake import partition_dir

    home, ids = home_with_traffic
    families = ("quality",)
    assert len(run_monitors(home, families=families)) == 2
    # Nothing changed: no partition is scanned at all.
    assert _Plan.make(home, MODEL, "1d").days == set()
    assert run_monitors(home, families=families) == []
    # A new day's traffic: only that day is scanned.
    day3 = DAY2 + dt.timedelta(days=1)
    rows = credit.heldout[list(credit.spec.input_columns)].iloc[:20]
    with PredictionLogger(MODEL, home=home) as log:
        new_ids = log.log_predictions(rows, labels=[0] * 20, scores=[0.1] * 20,
                                      timestamp=day3).prediction_ids
    assert _Plan.make(home, MODEL, "1d").days == {day3.date()}
    assert [r.key.start.date() for r in run_monitors(home, families=families)] == [day3.date()]
    # Late labels for day 2 arrive (dated today, in the partition that holds day 1's
    # labels too): the days those labels are for are scanned, day 3 is not.
    with PredictionLogger(MODEL, home=home) as log:
        log.log_feedback(ids[150:160], [1] * 10)
    plan = _Plan.make(home, MODEL, "1d")
    assert plan.days == {DAY1.date(), DAY2.date()}
    again = run_monitors(home, families=families)
    assert [(r.key.start.date(), r.key.labelled) for r in again] == [(DAY2.date(), 10)]
    assert run_monitors(home, families=families) == []
    assert partition_dir(home, "predictions", MODEL, day3.date().isoformat()).exists()
    assert len(new_ids) == 20
