"""The output-kind strategies turn raw network outputs into typed predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from raigov.models.output_kinds import OUTPUT_KINDS, output_kind
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec


def _spec(kind: str, **extra) -> ModelSpec:
    inputs = InputSchema(columns=(ColumnSpec(name="x", dtype="float"),))
    return ModelSpec(name="m", output_kind=kind, inputs=inputs, features=("x",), **extra)


def test_the_three_built_in_kinds_are_registered_through_the_registry():
    assert OUTPUT_KINDS.names() == ["binary", "multiclass", "regression"]


def test_binary_logits_become_the_sigmoid_score_and_the_thresholded_class():
    spec = _spec("binary", threshold=0.3)
    raw = np.array([[-2.0], [0.0], [-0.5], [3.0]])
    out = output_kind(spec).outputs(raw, spec)
    np.testing.assert_allclose(out.score, expit(raw[:, 0]))
    assert out.label.tolist() == [0, 1, 1, 1]      # expit(-0.5) = 0.38 >= 0.3
    rows = output_kind(spec).response_rows(out, spec)
    assert rows[0] == {"label": 0, "class": "0", "score": pytest.approx(expit(-2.0))}


def test_binary_probabilities_are_taken_as_they_are_when_the_spec_says_so():
    spec = _spec("binary", returns="probabilities")
    out = output_kind(spec).outputs(np.array([0.2, 0.7]), spec)
    assert out.score.tolist() == [0.2, 0.7] and out.label.tolist() == [0, 1]


def test_multiclass_logits_become_softmax_probabilities_in_class_order():
    spec = _spec("multiclass", classes=("a", "b", "c"))
    raw = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.0]])
    out = output_kind(spec).outputs(raw, spec)
    np.testing.assert_allclose(out.probabilities, softmax(raw, axis=1))
    assert out.label.tolist() == [1, 0]
    np.testing.assert_allclose(out.score, softmax(raw, axis=1).max(axis=1))
    row = output_kind(spec).response_rows(out, spec)[0]
    assert row["class"] == "b" and set(row["probabilities"]) == {"a", "b", "c"}


def test_a_wrong_output_shape_names_the_model_and_the_shape_expected():
    spec = _spec("multiclass", classes=("a", "b", "c"))
    with pytest.raises(ValueError, match=r"returned an output of shape \(2, 2\); expected \[N, 3\]"):
        output_kind(spec).outputs(np.zeros((2, 2)), spec)


def test_regression_values_pass_through_and_labels_must_be_finite_numbers():
    spec = _spec("regression", classes=())
    out = output_kind(spec).outputs(np.array([[1.5], [-2.0]]), spec)
    assert out.value.tolist() == [1.5, -2.0] and out.label is None
    kind = output_kind(spec)
    assert (kind.truth(3, spec), kind.truth(2.5, spec)) == (3.0, 2.5)
    assert kind.truth("3", spec) is None and kind.truth(float("nan"), spec) is None
    assert kind.truth(True, spec) is None


def test_classifier_labels_are_read_as_class_names_or_indices():
    spec = _spec("multiclass", classes=("a", "b", "c"))
    kind = output_kind(spec)
    assert [kind.truth(v, spec) for v in ("c", 1, 3, "z", None)] == [2, 1, None, None, None]
