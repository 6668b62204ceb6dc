"""The served OpenAPI document: one path per served model, with that model's request
and response bodies as JSON Schema.

The routes read their raw bodies (validation names the row and the field itself, and
is faster than a model-per-route pydantic parse), so FastAPI cannot see their bodies.
This document says what each model takes: the rows of its input schema (dtype, range,
categories, nullability), the labels and ``/log`` outputs of its output kind, and every
error answer with its ``detail``. It is what ``/docs`` shows and what the schemathesis
fuzz test (tests/serving/test_fuzz.py) generates requests from.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

from raigov.models.output_kinds import output_kind

if TYPE_CHECKING:
    from fastapi import FastAPI

    from raigov.models.spec import ColumnSpec, ModelSpec

_JSON_TYPES = {"float": "number", "int": "integer", "str": "string", "bool": "boolean",
               "text": "string"}
_TIMESTAMP = {"type": "string", "format": "date-time",
              "description": "event time (ISO 8601); default: now"}
ERROR = {"type": "object", "required": ["detail"],
         "properties": {"detail": {"description": "what is wrong: a message, or a list of "
                                                  "row errors (row, field, check, message, value)"}}}
_ERRORS = {"401": "no key, or a key that is unknown, expired or revoked",
           "403": "the key lacks the scope or the model",
           "404": "no such model is served here",
           "409": "a conflict (a model served elsewhere; a second label)",
           "413": "the body or the row count is over the limit",
           "422": "the request is invalid; its rows are quarantined with the reasons",
           "429": "over the key's rate limit (see Retry-After)",
           "503": "the model is disabled, or capture cannot acknowledge"}


def column_schema(col: "ColumnSpec") -> dict[str, Any]:
    """One input column as JSON Schema (its nulls, range and categories)."""
    out: dict[str, Any] = {"type": [_JSON_TYPES[col.dtype]] + (["null"] if col.nullable else [])}
    if col.allowed is not None:
        out["enum"] = list(col.allowed) + ([None] if col.nullable else [])
    if col.min is not None:
        out["minimum"] = col.min
    if col.max is not None:
        out["maximum"] = col.max
    if col.description:
        out["description"] = col.description
    return out


def row_schema(spec: "ModelSpec") -> dict[str, Any]:
    """A request row: every input column the model reads, no other field."""
    columns = {c.name: c for c in spec.inputs.columns}
    names = list(spec.input_columns)
    return {"type": "object", "required": names, "additionalProperties": False,
            "properties": {n: column_schema(columns[n]) for n in names}}


def _rows(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "items": items}


def predict_body(spec: "ModelSpec") -> dict[str, Any]:
    return {"type": "object", "required": ["rows"],
            "properties": {"rows": _rows(row_schema(spec)), "timestamp": _TIMESTAMP}}


def predict_response(spec: "ModelSpec") -> dict[str, Any]:
    row = copy.deepcopy(output_kind(spec).response_row_schema(spec))
    row["properties"]["prediction_id"] = {"type": "string"}
    row["required"] = ["prediction_id", *row.get("required", [])]
    return {"type": "object", "required": ["model", "version", "predictions"],
            "properties": {"model": {"type": "string"}, "version": {"type": "integer"},
                           "predictions": {"type": "array", "items": row}}}


def log_body(spec: "ModelSpec") -> dict[str, Any]:
    item = {"type": "object", "required": ["inputs", "outputs"], "additionalProperties": False,
            "properties": {"inputs": row_schema(spec),
                           "outputs": output_kind(spec).outputs_schema(spec),
                           "prediction_id": {"type": "string", "minLength": 1, "maxLength": 200},
                           "timestamp": _TIMESTAMP}}
    return {"type": "object", "required": ["rows"],
            "properties": {"rows": _rows(item), "timestamp": _TIMESTAMP}}


def feedback_body(spec: "ModelSpec") -> dict[str, Any]:
    item = {"type": "object", "required": ["prediction_id", "label"],
            "properties": {"prediction_id": {"type": "string"},
                           "label": output_kind(spec).truth_schema(spec)}}
    return {"type": "object", "required": ["labels"],
            "properties": {"labels": _rows(item), "timestamp": _TIMESTAMP}}


#: path template -> (request body, 200 response body or None, whether the model must
#: run here); a plugin route keeps FastAPI's own generic entry
MODEL_ROUTES: dict[str, tuple[Callable[["ModelSpec"], dict], Callable[["ModelSpec"], dict] | None, bool]] = {
    "/v1/models/{name}/predict": (predict_body, predict_response, True),
    "/v1/models/{name}/log": (log_body, None, False),
    "/v1/models/{name}/feedback": (feedback_body, None, False),
}


def served_openapi(app: "FastAPI", specs: dict[str, tuple["ModelSpec", bool]]) -> dict[str, Any]:
    """The OpenAPI document of ``app`` with each model route written out per model
    (``specs``: name -> (spec, whether it runs here))."""
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                      description="raigov serve: every request needs "
                                  "`Authorization: Bearer <key>` except /healthz.")
    paths = doc["paths"]
    for template, (body, response, runs_here) in MODEL_ROUTES.items():
        generic = paths.pop(template, {}).get("post")
        if generic is None:
            continue
        for name, (spec, runnable) in sorted(specs.items()):
            if runs_here and not runnable:
                continue
            paths[template.replace("{name}", quote(name, safe=""))] = {
                "post": _operation(generic, name, body(spec), response and response(spec))}
    for path, item in paths.items():
        for method, op in item.items():
            _declare_errors(op, open_route=path == "/healthz")
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "a raigov API key"}}
    doc["security"] = [{"bearer": []}]
    return doc


def _operation(generic: dict[str, Any], model: str, body: dict[str, Any],
               response: dict[str, Any] | None) -> dict[str, Any]:
    op = copy.deepcopy(generic)
    op["operationId"] = f"{op.get('operationId', 'op')}_{model}"
    op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "name"]
    op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if response is not None:
        op.setdefault("responses", {})["200"] = {
            "description": "one prediction per row, in order",
            "content": {"application/json": {"schema": response}}}
    return op


def _declare_errors(op: dict[str, Any], *, open_route: bool) -> None:
    responses = op.setdefault("responses", {})
    responses.pop("422", None)   # FastAPI's own validation body is not what raigov answers
    if open_route:
        op["security"] = []
        responses["503"] = {"description": "a model or the spool is failing (see problems)"}
        return
    for code, text in _ERRORS.items():
        responses.setdefault(code, {"description": text,
                                    "content": {"application/json": {"schema": ERROR}}})
