"""The Python logger for models served elsewhere: every output kind, caller ids and
times, typed labels; mistakes named, bad rows quarantined, good rows kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax

from raigov.errors import InputError
from raigov.home import Home
from raigov.models.capture import logger as lg
from raigov.models.capture.logger import PredictionLogger
from raigov.models.registry import register_model
from raigov.models.spec import ModelSpec
from raigov.store.lake import lake_connection

CLASSES = ("low", "mid", "high")


def _external(home: Home, credit_demo, tmp_path: Path, **update) -> str:
    spec = ModelSpec.model_validate({**credit_demo.spec.model_dump(), **update})
    empty = tmp_path / f"empty-{spec.name}"
    empty.mkdir()
    register_model(home, spec, artifact=empty, reference=credit_demo.reference)
    return spec.name


def _lake(home: Home, model: str, sql: str) -> list[tuple]:
    with lake_connection(home, model=model) as con:
        return con.execute(sql).fetchall()


def test_multiclass_probabilities_are_logged_with_their_argmax_and_its_probability(
        model_home, credit_demo, tmp_path, request_rows) -> None:
    name = _external(model_home, credit_demo, tmp_path, name="tiers", output_kind="multiclass",
                     classes=CLASSES, positive_class="high")
    p = softmax(np.random.default_rng(0).normal(size=(6, 3)), axis=1)
    when = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.timezone.utc)
    with PredictionLogger(name, home=model_home) as log:
        result = log.log_predictions(request_rows[:6], probabilities=p, timestamp=when,
                                     prediction_ids=[f"t{i}" for i in range(6)])
        log.log_feedback(["t0", "t1"], ["mid", 2])
    assert result.prediction_ids == [f"t{i}" for i in range(6)] and result.quarantined == 0
    got = _lake(model_home, name, "SELECT label, score, probabilities, ts, y_true FROM labelled "
                                  "ORDER BY prediction_id")
    assert [g[0] for g in got] == np.argmax(p, axis=1).tolist()
    np.testing.assert_allclose([g[1] for g in got], p.max(axis=1), rtol=0, atol=1e-15)
    np.testing.assert_allclose([g[2] for g in got], p, rtol=0, atol=1e-15)
    assert {g[3] for g in got} == {when}
    assert [g[4] for g in got][:3] == [1.0, 2.0, None]


def test_regression_values_and_true_values_are_stored_as_doubles(model_home, credit_demo, tmp_path,
                                                                   request_rows) -> None:
    name = _external(model_home, credit_demo, tmp_path, name="amount", output_kind="regression",
                     classes=())
    with PredictionLogger(name, home=model_home) as log:
        result = log.log_predictions(request_rows[:3], values=np.array([1200.0, 850.5, 4000.0]))
        log.log_feedback(result.prediction_ids[:2], [1111.25, 900])
    got = _lake(model_home, name, "SELECT value, label, y_true FROM labelled ORDER BY value")
    assert got == [(850.5, None, 900.0), (1200.0, None, 1111.25), (4000.0, None, None)]
    assert _lake(model_home, name, "SELECT y_true, y_value FROM feedback ORDER BY y_value") == [
        (None, 900.0), (None, 1111.25)]


def test_a_bad_output_row_is_quarantined_and_the_rest_kept(model_home, credit_demo, tmp_path,
                                                           request_rows) -> None:
    name = _external(model_home, credit_demo, tmp_path, name="credit-elsewhere")
    with PredictionLogger(name, home=model_home) as log:
        result = log.log_predictions(request_rows[:3], scores=[0.9, 1.7, 0.1], labels=[None, 1, "bad"])
    assert result.quarantined == 1 and result.prediction_ids[1] is None
    assert [(e.row, e.field) for e in result.errors] == [(1, "outputs.score")]
    assert _lake(model_home, name, "SELECT label, score FROM predictions ORDER BY score") == [
        (0, 0.1), (1, 0.9)]
    assert _lake(model_home, name, "SELECT row_index FROM quarantine") == [(1,)]


def test_outputs_a_kind_does_not_have_and_labels_it_cannot_read_are_refused(
        model_home, credit_demo, tmp_path, request_rows) -> None:
    name = _external(model_home, credit_demo, tmp_path, name="credit-elsewhere")
    with PredictionLogger(name, home=model_home) as log:
        with pytest.raises(InputError) as wrong:
            log.log_predictions(request_rows[:2], values=[1.0, 2.0])
        with pytest.raises(InputError) as short:
            log.log_predictions(request_rows[:2], scores=[0.5])
        with pytest.raises(InputError) as label:
            log.log_feedback(["x"], ["maybe"])
    assert str(wrong.value) == lg.WRONG_OUTPUTS.format(given=["values"], kind="binary", model=name,
                                                       allowed=["labels", "scores"])
    assert str(short.value) == lg.LENGTHS_DIFFER.format(method="log_predictions", rows=2,
                                                        field="scores", n=1)
    assert str(label.value) == lg.BAD_FEEDBACK.format(i=0, value="maybe", model=name,
                                                      hint="one of [0, 1] or ['bad', 'good']")
