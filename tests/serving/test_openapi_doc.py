"""The served OpenAPI document's row schema says what validation says: the held-out
rows pass both, and each kind of bad value fails both."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from raigov.models.serving.openapi_doc import predict_body, served_openapi
from raigov.models.validation import validate_rows


def _bad_rows(good: dict, spec) -> list[dict]:
    numeric = next(c for c in spec.inputs.columns if c.dtype in ("int", "float") and c.max is not None)
    categorical = next(c for c in spec.inputs.columns if c.allowed is not None)
    required = next(c for c in spec.inputs.columns if not c.nullable)
    out = []
    for change in ({numeric.name: numeric.max + 1}, {numeric.name: "12"},
                   {categorical.name: "Martian"}, {required.name: None}, {"extra": 1}):
        row = copy.deepcopy(good)
        row.update(change)
        out.append(row)
    missing = copy.deepcopy(good)
    del missing[required.name]
    return out + [missing]


def test_the_row_schema_accepts_and_refuses_what_validation_does(credit_demo, request_rows) -> None:
    spec = credit_demo.spec
    schema = predict_body(spec)
    jsonschema.validate({"rows": request_rows[:200]}, schema)
    assert validate_rows(spec, request_rows[:200])[1] == []
    for bad in _bad_rows(request_rows[0], spec):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"rows": [bad]}, schema)
        if "extra" not in bad:   # validation ignores fields the model does not read
            assert validate_rows(spec, [bad])[1] != [], bad


def test_each_served_model_has_its_own_paths_and_an_external_one_no_predict(credit_demo) -> None:
    from fastapi import FastAPI

    app = FastAPI(title="t")
    for route in ("predict", "log", "feedback"):
        app.post(f"/v1/models/{{name}}/{route}")(lambda name, request: None)
    external = credit_demo.spec.model_copy(update={"name": "credit-elsewhere"})
    doc = served_openapi(app, {"credit-risk": (credit_demo.spec, True),
                               "credit-elsewhere": (external, False)})
    assert sorted(doc["paths"]) == [
        "/v1/models/credit-elsewhere/feedback", "/v1/models/credit-elsewhere/log",
        "/v1/models/credit-risk/feedback", "/v1/models/credit-risk/log",
        "/v1/models/credit-risk/predict"]
    body = doc["paths"]["/v1/models/credit-risk/predict"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == predict_body(credit_demo.spec)
