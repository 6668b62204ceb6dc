"""KServe's inference logger, read as it sends: binary-mode CloudEvents over HTTP.

Each inference gives two events with the same ``ce-id`` (the caller's ``Ce-Id`` header
or a UUID KServe makes): ``ce-type`` ``org.kubeflow.serving.inference.request`` with
the request body and ``org.kubeflow.serving.inference.response`` with the response
body, plus ``ce-source``, ``ce-specversion`` (1.0), ``ce-time`` and KServe's extensions
``ce-inferenceservicename``, ``ce-namespace``, ``ce-component``, ``ce-endpoint``.

Bodies in either protocol:

- V1: ``{"instances": [...]}`` (each instance an object of input columns, or a list in
  the spec's input-column order) and ``{"predictions": [...]}``;
- V2 / Open Inference Protocol: ``{"inputs": [tensor, ...]}`` (one tensor per input
  column, named as the column, or one ``[N, F]`` tensor in input-column order) and
  ``{"outputs": [tensor, ...]}`` (one tensor, or tensors named after the logged fields
  ``label``, ``score``, ``probabilities``, ``value``); a tensor is
  ``{"name", "shape", "datatype", "data"}`` with ``data`` flat or nested, row-major.

A prediction item (a V1 prediction, or one row of a single V2 output tensor) is read by
its JSON type: an object holds the logged fields themselves; a string, a boolean or an
integer is the predicted class (the value, for regression); any other number is the
kind's own raw output (binary: P(positive class); regression: the value); a list holds
one probability per class (binary: the score is the positive class's); a one-element
list is its element.

The pair becomes logged rows (:mod:`raigov.models.capture.logged_rows`): prediction id
``<ce-id>`` for a one-row request, ``<ce-id>:<i>`` for row ``i`` of a larger one; event
time the request's ``ce-time``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from raigov.models.serving.event_pairs import Half, Pair
from raigov.models.capture.logged_outputs import LOGGED_OUTPUTS
from raigov.models.spec import ModelSpec
from raigov.models.validation import RowError

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
EVENT_TYPES: dict[str, Half] = {REQUEST_TYPE: "request", RESPONSE_TYPE: "response"}
REQUIRED_HEADERS = ("ce-id", "ce-type", "ce-source", "ce-specversion")
SCALAR_RAW_FIELDS = ("score", "value")

MISSING_HEADER = ("not a binary-mode CloudEvent: header '{header}' is missing (KServe's "
                  "inference logger sends {required})")
STRUCTURED_MODE = ("structured-mode CloudEvents (Content-Type application/cloudevents+json) "
                   "are not accepted; send binary mode, as KServe's inference logger does")
BAD_SPECVERSION = "header 'ce-specversion' must be '1.0'; got {value!r}"
BAD_TYPE = "header 'ce-type' must be one of {allowed}; got {value!r}"
NO_MODEL_HEADER = ("header 'ce-inferenceservicename' names the model on POST /v1/events; it is "
                   "missing (or post to /v1/models/<name>/events)")
NOT_JSON = "the {half} body is not JSON: {error}"
NO_REQUEST_KEY = ("the request body must be KServe V1 {{\"instances\": [...]}} or V2 "
                  "{{\"inputs\": [tensors]}}; found keys {keys}")
NO_RESPONSE_KEY = ("the response body must be KServe V1 {{\"predictions\": [...]}} or V2 "
                   "{{\"outputs\": [tensors]}}; found keys {keys}")
BAD_INSTANCE = ("instance {i} must be an object of input columns or a list of {f} values in "
                "input-column order {columns}")
BAD_TENSOR = "tensor {i} of '{key}' must be an object with 'name', 'shape' and 'data': {problem}"
TENSOR_SIZE = "tensor {name!r} has shape {shape} but {n} values"
TENSOR_ROWS = "the tensors of '{key}' disagree on the number of rows: {rows}"
NO_MATCHING_INPUTS = ("V2 'inputs' must be one tensor per input column (named {columns}) or one "
                      "[N, {f}] tensor in that order; got tensors {names} with shapes {shapes}")
UNKNOWN_OUTPUT_TENSORS = ("V2 'outputs' with several tensors must name them after the logged "
                          "fields {fields}; got {names}")
BAD_PREDICTION = "prediction {i} cannot be read as an output of a {kind} model: {item!r}"
PAIR_SIZES = ("the request of CloudEvent {id!r} has {n_in} rows but its response has "
              "{n_out} predictions")


@dataclass(frozen=True)
class EventHeaders:
    event_id: str
    half: Half
    source: str
    time: str | None
    service: str | None


def read_headers(headers: Mapping[str, str]) -> tuple[EventHeaders | None, RowError | None]:
    """The CloudEvent's attributes from its ``ce-`` headers, or the problem."""
    if headers.get("content-type", "").startswith("application/cloudevents"):
        return None, RowError(None, "content-type", "cloudevent", STRUCTURED_MODE)
    for header in REQUIRED_HEADERS:
        if not headers.get(header):
            return None, RowError(None, header, "missing", MISSING_HEADER.format(
                header=header, required=", ".join(REQUIRED_HEADERS)))
    if headers["ce-specversion"] != "1.0":
        return None, RowError(None, "ce-specversion", "cloudevent",
                              BAD_SPECVERSION.format(value=headers["ce-specversion"]))
    half = EVENT_TYPES.get(headers["ce-type"])
    if half is None:
        return None, RowError(None, "ce-type", "cloudevent", BAD_TYPE.format(
            allowed=list(EVENT_TYPES), value=headers["ce-type"]))
    return EventHeaders(headers["ce-id"], half, headers["ce-source"], headers.get("ce-time"),
                        headers.get("ce-inferenceservicename")), None


def decode_half(spec: ModelSpec, half: Half, payload: object) -> tuple[list | None, RowError | None]:
    """A request body as input rows, or a response body as output objects."""
    try:
        return (request_rows(spec, payload) if half == "request"
                else response_outputs(spec, payload)), None
    except _BodyError as exc:
        return None, RowError(exc.row, exc.field, "kserve", str(exc))


class _BodyError(ValueError):
    def __init__(self, message: str, *, field: str, row: int | None = None) -> None:
        super().__init__(message)
        self.field, self.row = field, row


def request_rows(spec: ModelSpec, payload: object) -> list[dict]:
    columns = spec.input_columns
    if isinstance(payload, dict) and isinstance(payload.get("instances"), list):
        return [_instance(i, item, columns) for i, item in enumerate(payload["instances"])]
    if isinstance(payload, dict) and isinstance(payload.get("inputs"), list):
        tensors = [_tensor(i, t, "inputs") for i, t in enumerate(payload["inputs"])]
        return _input_tensors(tensors, columns)
    keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
    raise _BodyError(NO_REQUEST_KEY.format(keys=keys), field="request")


def _instance(i: int, item: object, columns: list[str]) -> dict:
    if isinstance(item, dict):
        return item
    if isinstance(item, list) and len(item) == len(columns):
        return dict(zip(columns, item))
    raise _BodyError(BAD_INSTANCE.format(i=i, f=len(columns), columns=columns),
                     field="instances", row=i)


def _input_tensors(tensors: list[tuple[str, list[int], list]], columns: list[str]) -> list[dict]:
    names = [name for name, _, _ in tensors]
    if names and set(names) <= set(columns):
        per_row = {name: _rows(name, shape, data) for name, shape, data in tensors}
        _same_rows("inputs", {n: len(v) for n, v in per_row.items()})
        n = len(next(iter(per_row.values())))
        return [{name: values[r] for name, values in per_row.items()} for r in range(n)]
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][1][1] == len(columns):
        name, shape, data = tensors[0]
        return [dict(zip(columns, row)) for row in _rows(name, shape, data)]
    raise _BodyError(NO_MATCHING_INPUTS.format(columns=columns, f=len(columns), names=names,
                                               shapes=[s for _, s, _ in tensors]), field="inputs")


def response_outputs(spec: ModelSpec, payload: object) -> list[dict]:
    if isinstance(payload, dict) and isinstance(payload.get("predictions"), list):
        return [_prediction(spec, i, item) for i, item in enumerate(payload["predictions"])]
    if isinstance(payload, dict) and isinstance(payload.get("outputs"), list):
        tensors = [_tensor(i, t, "outputs") for i, t in enumerate(payload["outputs"])]
        if len(tensors) == 1:
            return [_prediction(spec, i, item) for i, item in enumerate(_rows(*tensors[0]))]
        fields = LOGGED_OUTPUTS.get(spec.output_kind).fields
        names = [name for name, _, _ in tensors]
        if not set(names) <= set(fields):
            raise _BodyError(UNKNOWN_OUTPUT_TENSORS.format(fields=list(fields), names=names),
                             field="outputs")
        per_row = {name: _rows(name, shape, data) for name, shape, data in tensors}
        _same_rows("outputs", {n: len(v) for n, v in per_row.items()})
        n = len(next(iter(per_row.values())))
        return [{name: values[r] for name, values in per_row.items()} for r in range(n)]
    keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
    raise _BodyError(NO_RESPONSE_KEY.format(keys=keys), field="response")


def _prediction(spec: ModelSpec, i: int, item: Any) -> dict:
    """One prediction item as logged output fields (the rules in the module docstring)."""
    allowed = LOGGED_OUTPUTS.get(spec.output_kind)
    while isinstance(item, list) and len(item) == 1:   # a loop: nesting is client-chosen
        item = item[0]
    if isinstance(item, dict):
        return item
    if isinstance(item, list) and "probabilities" in allowed.fields:
        return {"probabilities": item}
    if isinstance(item, list) and "score" in allowed.fields and len(item) == len(spec.classes):
        return {"score": item[spec.classes.index(spec.positive_class)]}
    if isinstance(item, (str, bool)) or (isinstance(item, int) and "label" in allowed.fields):
        return {"label": item}
    if isinstance(item, (int, float)):
        field = allowed.raw if allowed.raw in SCALAR_RAW_FIELDS else "label"
        return {field: item}
    raise _BodyError(BAD_PREDICTION.format(i=i, kind=spec.output_kind, item=item),
                     field="predictions", row=i)


def _tensor(i: int, tensor: object, key: str) -> tuple[str, list[int], list]:
    if not isinstance(tensor, dict):
        raise _BodyError(BAD_TENSOR.format(i=i, key=key, problem="not an object"), field=key)
    name, shape, data = tensor.get("name"), tensor.get("shape"), tensor.get("data")
    if not isinstance(name, str) or not isinstance(data, list) or not isinstance(shape, list) \
            or not shape or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _BodyError(BAD_TENSOR.format(i=i, key=key, problem=f"got {tensor!r}"[:300]),
                         field=key)
    return name, shape, data


def _rows(name: str, shape: list[int], data: list) -> list:
    """Row-major values per row: a scalar for [N] and [N, 1], a flat list otherwise."""
    flat = _flatten(data)
    if len(flat) != math.prod(shape):
        raise _BodyError(TENSOR_SIZE.format(name=name, shape=shape, n=len(flat)), field=name)
    width = math.prod(shape[1:])
    if width == 1 and len(shape) <= 2:
        return flat
    return [flat[r * width:(r + 1) * width] for r in range(shape[0])]


def _flatten(data: list) -> list:
    """Nested lists' values in order, without recursion (nesting is client-chosen)."""
    out: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _same_rows(key: str, rows: dict[str, int]) -> None:
    if len(set(rows.values())) > 1:
        raise _BodyError(TENSOR_ROWS.format(key=key, rows=rows), field=key)


def pair_rows(pair: Pair) -> tuple[list[dict] | None, RowError | None]:
    """The logged rows of a request/response pair, or why they do not fit together."""
    inputs, outputs = pair.request.decoded, pair.response.decoded
    event_id = pair.request.event_id
    if len(inputs) != len(outputs):
        return None, RowError(None, "predictions", "pair", PAIR_SIZES.format(
            id=event_id, n_in=len(inputs), n_out=len(outputs)))
    ids = [event_id] if len(inputs) == 1 else [f"{event_id}:{i}" for i in range(len(inputs))]
    ts = pair.request.time or pair.response.time
    return [{"prediction_id": pid, "timestamp": ts, "inputs": row, "outputs": out}
            for pid, row, out in zip(ids, inputs, outputs)], None
