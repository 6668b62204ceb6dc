"""Traffic planning: seeded, with a weekly pattern, and each built-in incident kind
shaping the rows, the requests or the labels only where and when it says."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from raigov.cli.demo.incident_kinds import ConceptShift, CovariateShift, DataFault
from raigov.cli.demo.scenario import Labels, Traffic
from raigov.cli.demo.traffic import plan_feedback, plan_traffic

START = dt.date(2026, 3, 2)   # a Monday
COLUMNS = ["age", "hours_per_week", "native_country"]


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2000
    return pd.DataFrame({"age": rng.integers(18, 80, n), "hours_per_week": rng.integers(10, 70, n),
                         "native_country": rng.choice(["United-States", "Mexico"], n),
                         "y_true": (rng.random(n) < 0.25).astype(np.int64)})


def _traffic(**changes) -> Traffic:
    return Traffic(models={"income-classifier": {"rows_per_day": 700}}, **changes)


def _plan(pool: pd.DataFrame, *, incidents=(), seed: int = 0, days: int = 7, **traffic):
    return plan_traffic(pool, model="income-classifier", input_columns=COLUMNS, start=START,
                        days=days, traffic=_traffic(**traffic), incidents=tuple(incidents),
                        seed=seed)


def _day_rows(plan, day: int) -> pd.DataFrame:
    return pd.concat([r.rows for r in plan if r.day == day], ignore_index=True)


def test_the_same_seed_plans_the_same_requests_rows_and_labels(pool) -> None:
    first, again, other = _plan(pool), _plan(pool), _plan(pool, seed=1)
    assert [r.timestamp for r in first] == [r.timestamp for r in again]
    assert all(a.rows.equals(b.rows) and (a.y_true == b.y_true).all()
               for a, b in zip(first, again))
    assert [len(r.rows) for r in first] != [len(r.rows) for r in other]


def test_volume_follows_the_weekly_pattern_and_requests_stay_within_their_size(pool) -> None:
    plan = _plan(pool, daily_noise=0.0, max_rows_per_request=20)
    per_day = pd.Series([len(r.rows) for r in plan]).groupby([r.day for r in plan]).sum()
    assert per_day.tolist() == [700, 735, 770, 735, 700, 420, 350]
    assert max(len(r.rows) for r in plan) <= 20
    assert all(r.timestamp.date() == START + dt.timedelta(days=r.day - 1) for r in plan)
    assert [r.timestamp for r in plan] == sorted(r.timestamp for r in plan)


def test_a_covariate_shift_draws_more_of_its_rows_only_while_it_lasts(pool) -> None:
    shift = CovariateShift(model="income-classifier", day=3, until=4,
                           oversample=({"column": "age", "min": 51, "factor": 5},))
    plan = _plan(pool, incidents=[shift])
    older = {day: (_day_rows(plan, day)["age"] >= 51).mean() for day in range(1, 8)}
    assert older[3] > 0.75 and older[4] > 0.75          # about 0.82 with factor 5
    assert max(older[d] for d in (1, 2, 5, 6, 7)) < 0.56  # about 0.48 uniform


def test_a_data_fault_breaks_whole_requests_in_its_share(pool) -> None:
    fault = DataFault(model="income-classifier", day=2, until=2, column="native_country",
                      fault="new_category", value="Atlantis", share=0.3)
    plan = _plan(pool, incidents=[fault])
    broken = [r for r in plan if (r.rows["native_country"] == "Atlantis").any()]
    assert {r.day for r in broken} == {2}
    assert all((r.rows["native_country"] == "Atlantis").all() for r in broken)
    assert 0.15 < len(broken) / sum(1 for r in plan if r.day == 2) < 0.45
    nulls = DataFault(model="income-classifier", day=1, column="age", fault="null", share=1.0)
    assert _plan(pool, incidents=[nulls], days=1)[0].rows["age"].isna().all()


def test_a_concept_shift_changes_labels_in_its_segment_only(pool) -> None:
    shift = ConceptShift(model="income-classifier", day=2, share=0.5,
                         where=({"column": "age", "max": 34},))
    base, shifted = _plan(pool, days=3), _plan(pool, days=3, incidents=[shift])
    for a, b in zip(base, shifted):
        assert a.rows.equals(b.rows)
        changed = a.y_true != b.y_true
        assert not changed.any() or (a.day >= 2 and (a.rows["age"][changed] <= 34).all()
                                     and (b.y_true[changed] == 1).all())
    flipped = sum(int((a.y_true != b.y_true).sum()) for a, b in zip(base, shifted))
    assert flipped > 100


def test_labels_arrive_with_their_delay_for_the_covered_share() -> None:
    ts = pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(np.arange(4000), unit="min")
    predictions = pd.DataFrame({"prediction_id": [f"p{i}" for i in range(4000)], "ts": ts,
                                "y_true": 1})
    labels = Labels(coverage=0.8, delay_days=(0.5, 2.0))
    plan = plan_feedback(predictions, labels=labels, until=ts[-1] + pd.Timedelta(days=2),
                         model="m", seed=0)
    delay = (plan["received_at"] - plan["ts"]).dt.total_seconds() / 86400
    assert 0.77 < len(plan) / 4000 < 0.83
    assert delay.between(0.5, 2.0).all() and plan["received_at"].is_monotonic_increasing
    early = plan_feedback(predictions, labels=labels, until=ts[0] + pd.Timedelta(days=1),
                          model="m", seed=0)
    assert (early["received_at"] <= ts[0] + pd.Timedelta(days=1)).all() and len(early) < len(plan)


def test_a_new_category_that_the_schema_already_allows_is_refused_before_any_traffic() -> None:
    from types import SimpleNamespace

    from raigov.models.spec import ColumnSpec, InputSchema
    from raigov.cli.demo.incident_kinds import NOT_NEW
    from raigov.errors import ConfigError

    schema = InputSchema(columns=(ColumnSpec(name="purpose", dtype="str", allowed=("car", "tv")),))
    fleet = SimpleNamespace(demo_model=lambda name: SimpleNamespace(
        spec=SimpleNamespace(inputs=schema)))
    fault = DataFault(model="credit-risk", day=1, column="purpose", fault="new_category",
                      value="car", share=0.1)
    with pytest.raises(ConfigError) as caught:
        fault.prepare(fleet)
    assert str(caught.value) == NOT_NEW.format(value="car", model="credit-risk", column="purpose",
                                               allowed=("car", "tv"))
    fault.model_copy(update={"value": "crypto"}).prepare(fleet)   # a new one is fine
