"""Logged rows of models served elsewhere: outputs read per output kind become exactly
the typed predictions raigov would have made, and every mistake names row and field."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from raigov.models.capture import logged_outputs as lo
from raigov.models.capture import logged_rows as lr
from raigov.models.output_kinds import output_kind
from raigov.models.capture.records import prediction_table
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec

CLASSES = ("low", "mid", "high")


def _spec(kind: str, **extra) -> ModelSpec:
    inputs = InputSchema(columns=(ColumnSpec(name="x", dtype="float", min=0, max=10),
                                  ColumnSpec(name="g", dtype="str", allowed=("a", "b"))))
    return ModelSpec(name="m", output_kind=kind, inputs=inputs, features=("x",),
                     sensitive=("g",), **extra)


def _rows(outputs: list[dict], **extra) -> list[dict]:
    return [{"inputs": {"x": float(i), "g": "a"}, "outputs": out, **extra}
            for i, out in enumerate(outputs)]


def test_a_logged_binary_score_gets_the_label_the_served_model_would_give() -> None:
    spec = _spec("binary", threshold=0.3)
    logits = np.array([-2.0, -0.5, 1.0])
    served = output_kind(spec).outputs(logits, spec)
    batch = lr.read_logged_rows(spec, _rows([{"score": float(s)} for s in expit(logits)]))
    assert batch.errors == []
    assert batch.outputs.label.tolist() == served.label.tolist() == [0, 1, 1]
    np.testing.assert_array_equal(batch.outputs.score, served.score)


def test_a_binary_label_alone_is_kept_and_its_score_stored_as_null() -> None:
    spec = _spec("binary")
    batch = lr.read_logged_rows(spec, _rows([{"label": "1"}, {"label": 0, "score": 0.2}]))
    assert batch.errors == []
    table, _ = prediction_table(spec, 1, batch.frame, batch.outputs)
    assert table["label"].to_pylist() == [1, 0]
    assert table["score"].to_pylist() == [None, 0.2]
    assert table["value"].null_count == 2 and table["probabilities"].null_count == 2


def test_multiclass_probabilities_as_a_list_or_a_mapping_give_the_served_columns() -> None:
    spec = _spec("multiclass", classes=CLASSES)
    raw = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.0]])
    served = output_kind(spec).outputs(raw, spec)
    p = softmax(raw, axis=1)
    outputs = [{"probabilities": p[0].tolist()},
               {"probabilities": dict(zip(CLASSES, p[1].tolist()))}]
    batch = lr.read_logged_rows(spec, _rows(outputs))
    assert batch.errors == []
    assert batch.outputs.label.tolist() == served.label.tolist() == [1, 0]
    np.testing.assert_allclose(batch.outputs.probabilities, served.probabilities, rtol=0, atol=1e-15)
    np.testing.assert_allclose(batch.outputs.score, served.score, rtol=0, atol=1e-15)


def test_a_multiclass_label_given_with_probabilities_keeps_it_and_scores_that_class() -> None:
    spec = _spec("multiclass", classes=CLASSES)
    batch = lr.read_logged_rows(spec, _rows([{"label": "high", "probabilities": [0.5, 0.3, 0.2]},
                                             {"label": 1}]))
    assert batch.errors == []
    table, _ = prediction_table(spec, 1, batch.frame, batch.outputs)
    assert table["label"].to_pylist() == [2, 1]
    assert table["score"].to_pylist() == [0.2, None]
    assert table["probabilities"].to_pylist() == [[0.5, 0.3, 0.2], None]


def test_a_regression_value_is_stored_as_the_value() -> None:
    spec = _spec("regression", classes=())
    batch = lr.read_logged_rows(spec, _rows([{"value": 41.5}, {"value": -3}]))
    table, _ = prediction_table(spec, 1, batch.frame, batch.outputs)
    assert table["value"].to_pylist() == [41.5, -3.0]
    assert table["label"].null_count == 2 and table["score"].null_count == 2


@pytest.mark.parametrize(("kind", "outputs", "field", "message"), [
    ("binary", {"score": 1.5}, "outputs.score", lo.BAD_SCORE.format(prefix="outputs")),
    ("binary", {"score": float("nan")}, "outputs.score", lo.BAD_SCORE.format(prefix="outputs")),
    ("binary", {"label": "2"}, "outputs.label",
     lo.BAD_LABEL.format(prefix="outputs", hint="one of [0, 1] or ['0', '1']")),
    ("binary", {"scor": 0.4}, "outputs.scor",
     lo.UNKNOWN_FIELD.format(prefix="outputs", field="scor", kind="binary",
                             allowed="label, score", hint=" Did you mean 'score'?")),
    ("binary", {}, "outputs", lo.NO_OUTPUT.format(fields="label, score", prefix="outputs")),
    ("multiclass", {"probabilities": [0.5, 0.5, 0.1]}, "outputs.probabilities",
     lo.BAD_SUM.format(prefix="outputs", tolerance=1e-6, total=1.1)),
    ("multiclass", {"probabilities": {"low": 0.5, "mid": 0.5, "hi": 0.0}}, "outputs.probabilities",
     lo.BAD_CLASSES.format(prefix="outputs", missing=["high"], unknown=["hi"],
                           classes=list(CLASSES))),
    ("multiclass", {"probabilities": [0.5, 0.5]}, "outputs.probabilities",
     lo.BAD_PROBABILITIES.format(prefix="outputs", k=3, classes=list(CLASSES))),
    ("multiclass", {"label": "top"}, "outputs.label",
     lo.BAD_LABEL.format(prefix="outputs", hint=f"one of [0, 1, 2] or {list(CLASSES)}")),
    ("regression", {"value": "41"}, "outputs.value", lo.BAD_VALUE.format(prefix="outputs")),
    ("regression", {"label": 3.0}, "outputs.label",
     lo.UNKNOWN_FIELD.format(prefix="outputs", field="label", kind="regression",
                             allowed="value", hint="")),
])
def test_each_bad_output_is_named_with_its_row_field_and_what_is_allowed(kind, outputs, field, message) -> None:
    spec = _spec(kind, **({"classes": CLASSES} if kind == "multiclass" else
                          {"classes": ()} if kind == "regression" else {}))
    rows = _rows([outputs, outputs])
    rows[0]["outputs"] = next(iter(_good_outputs(kind)))
    batch = lr.read_logged_rows(spec, rows)
    assert [(e.row, e.field, e.message) for e in batch.errors] == [(1, field, message)]


def _good_outputs(kind: str) -> list[dict]:
    return {"binary": [{"score": 0.5}], "multiclass": [{"label": 0}],
            "regression": [{"value": 1.0}]}[kind]


def test_the_sum_of_probabilities_may_be_off_by_at_most_one_millionth() -> None:
    spec = _spec("multiclass", classes=CLASSES)
    near = lr.read_logged_rows(spec, _rows([{"probabilities": [0.5, 0.3, 0.2 + 9e-7]}]))
    far = lr.read_logged_rows(spec, _rows([{"probabilities": [0.5, 0.3, 0.2 + 2e-6]}]))
    assert near.errors == [] and [e.field for e in far.errors] == ["outputs.probabilities"]


def test_input_errors_are_named_under_inputs_and_row_mistakes_under_their_field() -> None:
    spec = _spec("binary")
    rows = _rows([{"score": 0.1}] * 4)
    rows[0]["inputs"]["x"] = 11.0                          # out of range
    rows[1]["inputs"] = "x=1"                              # not an object
    rows[2]["prediction_id"] = 7
    rows[3]["timestmap"] = "2026-01-01T00:00:00Z"
    batch = lr.read_logged_rows(spec, rows)
    found = {(e.row, e.field) for e in batch.errors}
    assert {(0, "inputs.x"), (1, "inputs"), (2, "prediction_id"), (3, "timestmap")} <= found
    hint = [e.message for e in batch.errors if e.field == "timestmap"]
    assert hint == [lr.UNKNOWN_ROW_FIELD.format(field="timestmap", allowed=", ".join(lr.ROW_FIELDS),
                                                hint=" Did you mean 'timestamp'?")]
    assert batch.bad_rows == [0, 1, 2, 3]


def test_caller_ids_and_timestamps_are_kept_and_a_repeated_id_is_refused() -> None:
    spec = _spec("binary")
    rows = _rows([{"score": 0.1}] * 3)
    rows[0].update(prediction_id="abc", timestamp="2026-03-01T10:00:00+01:00")
    rows[1]["prediction_id"] = "def"
    batch = lr.read_logged_rows(spec, rows)
    assert batch.errors == [] and batch.prediction_ids[:2] == ["abc", "def"]
    assert len(batch.prediction_ids[2]) == 36
    assert batch.timestamps[0].isoformat() == "2026-03-01T09:00:00+00:00"
    rows[1]["prediction_id"] = "abc"
    repeated = lr.read_logged_rows(spec, rows)
    assert [(e.row, e.field) for e in repeated.errors] == [(0, "prediction_id"), (1, "prediction_id")]
