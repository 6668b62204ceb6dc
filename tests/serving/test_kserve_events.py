"""KServe's inference logger: headers and bodies as KServe sends them (V1 and V2),
pairing by ce-id in either order, bounded waiting that ends in quarantine reasons."""

from __future__ import annotations

import pytest

from raigov.models.serving import event_pairs as ep
from raigov.models.serving import kserve_events as ke
from raigov.models.capture.logged_rows import read_logged_rows
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec

HEADERS = {"ce-id": "5b6e", "ce-type": ke.REQUEST_TYPE, "ce-source": "http://localhost:9081/",
           "ce-specversion": "1.0", "ce-time": "2026-03-01T10:00:00Z",
           "ce-inferenceservicename": "m", "ce-component": "predictor",
           "ce-endpoint": "default", "ce-namespace": "default", "content-type": "application/json"}


def _spec(kind: str = "binary", **extra) -> ModelSpec:
    inputs = InputSchema(columns=(ColumnSpec(name="x", dtype="float"),
                                  ColumnSpec(name="g", dtype="str", allowed=("a", "b"))))
    return ModelSpec(name="m", output_kind=kind, inputs=inputs, features=("x",),
                     sensitive=("g",), **extra)


def _half(half: str, event_id: str = "e", decoded=None) -> ep.EventHalf:
    return ep.EventHalf("m", 1, event_id, half, decoded or [], b"{}")


def test_kserve_headers_are_read_and_each_missing_one_is_named() -> None:
    headers, problem = ke.read_headers(HEADERS)
    assert problem is None and (headers.event_id, headers.half, headers.service) == ("5b6e", "request", "m")
    for name in ke.REQUIRED_HEADERS:
        _, problem = ke.read_headers({k: v for k, v in HEADERS.items() if k != name})
        assert (problem.field, problem.message) == (name, ke.MISSING_HEADER.format(
            header=name, required=", ".join(ke.REQUIRED_HEADERS)))
    _, problem = ke.read_headers({**HEADERS, "ce-type": "org.kubeflow.serving.inference.reply"})
    assert problem.message == ke.BAD_TYPE.format(allowed=list(ke.EVENT_TYPES),
                                                 value="org.kubeflow.serving.inference.reply")


def test_v1_and_v2_requests_give_the_same_input_rows() -> None:
    spec = _spec()
    expected = [{"x": 1.5, "g": "a"}, {"x": 2.0, "g": "b"}]
    v1_objects = {"instances": expected}
    v1_lists = {"instances": [[1.5, "a"], [2.0, "b"]]}
    v2_columns = {"id": "5b6e", "inputs": [
        {"name": "x", "shape": [2], "datatype": "FP64", "data": [1.5, 2.0]},
        {"name": "g", "shape": [2, 1], "datatype": "BYTES", "data": [["a"], ["b"]]}]}
    v2_matrix = {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "BYTES",
                             "data": [1.5, "a", 2.0, "b"]}]}
    for body in (v1_objects, v1_lists, v2_columns, v2_matrix):
        assert ke.request_rows(spec, body) == expected


def test_v1_and_v2_responses_are_read_by_kind() -> None:
    binary = _spec()
    assert ke.response_outputs(binary, {"predictions": [0.8, 1, "0", [0.3, 0.7], {"label": 1}]}) == [
        {"score": 0.8}, {"label": 1}, {"label": "0"}, {"score": 0.7}, {"label": 1}]
    multi = _spec("multiclass", classes=("p", "q", "r"))
    v2 = {"model_name": "m", "outputs": [{"name": "output-0", "shape": [2, 3], "datatype": "FP32",
                                          "data": [0.2, 0.5, 0.3, 0.6, 0.3, 0.1]}]}
    assert ke.response_outputs(multi, v2) == [{"probabilities": [0.2, 0.5, 0.3]},
                                              {"probabilities": [0.6, 0.3, 0.1]}]
    named = {"outputs": [{"name": "label", "shape": [2], "datatype": "BYTES", "data": ["q", "p"]},
                         {"name": "probabilities", "shape": [2, 3], "datatype": "FP64",
                          "data": [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]}]}
    assert ke.response_outputs(multi, named)[0] == {"label": "q", "probabilities": [0.2, 0.5, 0.3]}
    regression = _spec("regression", classes=())
    assert ke.response_outputs(regression, {"outputs": [
        {"name": "y", "shape": [2, 1], "datatype": "FP32", "data": [3, 4.5]}]}) == [
        {"value": 3}, {"value": 4.5}]


@pytest.mark.parametrize(("half", "body", "field", "message"), [
    ("request", {"rows": []}, "request", ke.NO_REQUEST_KEY.format(keys=["rows"])),
    ("request", {"instances": [[1.0]]}, "instances",
     ke.BAD_INSTANCE.format(i=0, f=2, columns=["x", "g"])),
    ("request", {"inputs": [{"name": "x", "shape": [3], "data": [1, 2]}]}, "x",
     ke.TENSOR_SIZE.format(name="x", shape=[3], n=2)),
    ("request", {"inputs": [{"name": "z", "shape": [1, 3], "data": [1, 2, 3]}]}, "inputs",
     ke.NO_MATCHING_INPUTS.format(columns=["x", "g"], f=2, names=["z"], shapes=[[1, 3]])),
    ("response", {"outputs": [{"name": "a", "shape": [1], "data": [1]},
                              {"name": "b", "shape": [1], "data": [1]}]}, "outputs",
     ke.UNKNOWN_OUTPUT_TENSORS.format(fields=["label", "score"], names=["a", "b"])),
])
def test_bodies_kserve_would_not_send_are_named_with_the_problem(half, body, field, message) -> None:
    decoded, problem = ke.decode_half(_spec(), half, body)
    assert decoded is None and (problem.field, problem.message) == (field, message)


def test_a_pair_arrives_in_either_order_and_becomes_logged_rows_with_the_event_ids() -> None:
    spec = _spec()
    for order in (("request", "response"), ("response", "request")):
        events = ep.PendingEvents()
        parts = {"request": [{"x": 1.0, "g": "a"}, {"x": 2.0, "g": "b"}],
                 "response": [{"score": 0.2}, {"score": 0.9}]}
        assert events.offer(_half(order[0], decoded=parts[order[0]])) == "pending"
        pair = events.offer(_half(order[1], decoded=parts[order[1]]))
        rows, problem = ke.pair_rows(pair)
        assert problem is None and [r["prediction_id"] for r in rows] == ["e:0", "e:1"]
        batch = read_logged_rows(spec, rows)
        assert batch.errors == [] and batch.outputs.label.tolist() == [0, 1]
        assert len(events) == 0


def test_a_one_row_request_is_logged_under_the_event_id_itself() -> None:
    pair = ep.Pair(_half("request", "abc", [{"x": 1.0, "g": "a"}]), _half("response", "abc", [{"score": 0.4}]))
    rows, _ = ke.pair_rows(pair)
    assert [r["prediction_id"] for r in rows] == ["abc"]


def test_a_redelivered_half_is_a_duplicate_not_a_second_prediction() -> None:
    events = ep.PendingEvents()
    assert events.offer(_half("request")) == "pending"
    assert events.offer(_half("request")) == "duplicate"
    assert isinstance(events.offer(_half("response")), ep.Pair)
    assert events.offer(_half("response")) == "duplicate"
    assert len(events) == 0


def test_unpaired_halves_leave_after_their_age_and_beyond_the_cap_with_reasons() -> None:
    now = [0.0]
    events = ep.PendingEvents(max_pending=2, max_age_s=10, clock=lambda: now[0])
    for i in range(3):
        events.offer(_half("request", f"e{i}"))
        now[0] += 4
    expired = events.expire()     # e0 evicted by the cap; e1 (age 8 s) still waits
    assert [(x.half.event_id, x.reason) for x in expired] == [
        ("e0", ep.EVICTED.format(half="request", id="e0", model="m", cap=2))]
    now[0] += 3                   # e1 is 11 s old, e2 7 s
    assert [(x.half.event_id, x.reason) for x in events.expire()] == [
        ("e1", ep.AGED.format(half="request", id="e1", model="m", other="response", age=10))]
    assert [(x.half.event_id, x.reason) for x in events.drain()] == [
        ("e2", ep.STOPPED.format(half="request", id="e2", model="m"))]
    assert len(events) == 0


def test_a_request_and_response_of_different_sizes_do_not_pair_into_rows() -> None:
    pair = ep.Pair(_half("request", "z", [{"x": 1.0, "g": "a"}] * 2), _half("response", "z", [{"score": 0.1}]))
    rows, problem = ke.pair_rows(pair)
    assert rows is None and problem.message == ke.PAIR_SIZES.format(id="z", n_in=2, n_out=1)
