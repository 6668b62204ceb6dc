"""Models served elsewhere, through a real ``raigov serve`` process: an external model
(no network) is listed, refuses predict, and takes its predictions through /log and
KServe's CloudEvents; feedback is typed by the output kind."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from raigov.home import Home
from raigov.models.serving import kserve_events as ke
from raigov.models.registry import get_model, register_model
from raigov.models.serving.app import SERVED_ELSEWHERE
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.models.spec import ModelSpec
from raigov.store.lake import lake_connection
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
EXTERNAL = "credit-external"
REGRESSION = "credit-amount"
COMPARED = "prediction_id, label, score, value, probabilities, version, ts"


def _register_external(home: Home, spec: ModelSpec, reference, tmp_path: Path) -> None:
    empty = tmp_path / f"no-artifact-{spec.name}"
    empty.mkdir()
    register_model(home, spec, artifact=empty, reference=reference)


@pytest.fixture
def external_home(model_home: Home, credit_demo, tmp_path: Path) -> Home:
    spec = credit_demo.spec
    _register_external(model_home, spec.model_copy(update={"name": EXTERNAL}),
                       credit_demo.reference, tmp_path)
    regression = ModelSpec.model_validate({**spec.model_dump(), "name": REGRESSION,
                                           "output_kind": "regression", "classes": ()})
    _register_external(model_home, regression, credit_demo.reference, tmp_path)
    return model_home


def _lake(home: Home, sql: str, model: str | None = None) -> list[tuple]:
    with lake_connection(home, model=model) as con:
        return con.execute(sql).fetchall()


def test_an_external_model_is_listed_refuses_predict_and_health_stays_ok(external_home, request_rows) -> None:
    assert get_model(external_home, EXTERNAL).external and not get_model(external_home, MODEL).external
    with ServerProcess.with_key(external_home, free_port()) as server:
        listed = {m["name"]: m["external"] for m in httpx.get(
            server.url + "/v1/models", headers=server.headers).json()["models"]}
        r = httpx.post(f"{server.url}/v1/models/{EXTERNAL}/predict", headers=server.headers,
                       json={"rows": request_rows[:2]})
        health = httpx.get(server.url + "/healthz")
    assert listed == {MODEL: False, EXTERNAL: True, REGRESSION: True}
    assert r.status_code == 409 and r.json()["detail"] == SERVED_ELSEWHERE.format(model=EXTERNAL)
    assert health.status_code == 200


def test_logged_predictions_land_in_the_lake_exactly_as_the_served_ones(external_home, request_rows) -> None:
    ts = "2026-02-03T10:00:00Z"
    with ServerProcess.with_key(external_home, free_port()) as server:
        served = httpx.post(f"{server.url}/v1/models/{MODEL}/predict", headers=server.headers,
                            json={"rows": request_rows[:20], "timestamp": ts}).json()["predictions"]
        rows = [{"prediction_id": p["prediction_id"], "inputs": row,
                 "outputs": {"label": p["class"], "score": p["score"]}}
                for row, p in zip(request_rows, served)]
        r = httpx.post(f"{server.url}/v1/models/{EXTERNAL}/log", headers=server.headers,
                       json={"rows": rows, "timestamp": ts})
        label_only = httpx.post(f"{server.url}/v1/models/{EXTERNAL}/log", headers=server.headers,
                                json={"rows": [
            {"prediction_id": "only-label", "inputs": request_rows[0], "outputs": {"label": "good"}}]})
    assert r.status_code == 200, r.text
    assert r.json()["prediction_ids"] == [p["prediction_id"] for p in served]
    columns = ", ".join(c for c in request_rows[0])
    query = f"SELECT {COMPARED}, {columns} FROM predictions WHERE prediction_id <> 'only-label' ORDER BY prediction_id"
    logged, direct = _lake(external_home, query, EXTERNAL), _lake(external_home, query, MODEL)
    assert len(logged) == 20 and logged == direct
    assert label_only.status_code == 200
    assert _lake(external_home, "SELECT label, score FROM predictions WHERE prediction_id = 'only-label'",
                 EXTERNAL) == [(1, None)]


def test_a_bad_logged_row_gets_422_naming_row_and_field_and_every_row_is_quarantined(external_home, request_rows) -> None:
    rows = [{"inputs": row, "outputs": {"score": 0.3}} for row in request_rows[:3]]
    rows[1]["outputs"] = {"score": "high"}
    rows[2]["inputs"] = {**rows[2]["inputs"], "age": -4}
    with ServerProcess.with_key(external_home, free_port()) as server:
        r = httpx.post(f"{server.url}/v1/models/{EXTERNAL}/log", headers=server.headers,
                       json={"rows": rows})
    assert r.status_code == 422 and r.json()["quarantined"] == 3
    assert [(e["row"], e["field"]) for e in r.json()["detail"]] == [(1, "outputs.score"), (2, "inputs.age")]
    assert _lake(external_home, "SELECT count(*) FROM predictions", EXTERNAL) == [(0,)]
    quarantined = _lake(external_home, "SELECT row_index, reason FROM quarantine ORDER BY row_index", EXTERNAL)
    assert [q[0] for q in quarantined] == [0, 1, 2]
    assert "another row is invalid" in quarantined[0][1] and "outputs.score" in quarantined[1][1]


def _event(server: ServerProcess, path: str, event_id: str, half: str, body: dict,
           **headers: str) -> httpx.Response:
    kind = ke.REQUEST_TYPE if half == "request" else ke.RESPONSE_TYPE
    return httpx.post(server.url + path, content=json.dumps(body), headers={**server.headers,
        "ce-id": event_id, "ce-type": kind, "ce-source": "http://localhost:9081/",
        "ce-specversion": "1.0", "ce-time": "2026-02-03T11:00:00Z", "content-type": "application/json",
        "ce-component": "predictor", "ce-endpoint": "default", **headers})


def test_kserve_events_pair_in_either_order_and_an_unpaired_half_is_quarantined_when_it_ages(
        external_home, request_rows) -> None:
    path = f"/v1/models/{EXTERNAL}/events"
    v2_request = {"inputs": [{"name": c, "shape": [2], "datatype": "BYTES" if isinstance(request_rows[0][c], str)
                              else "FP64", "data": [r[c] for r in request_rows[:2]]} for c in request_rows[0]]}
    v2_response = {"model_name": EXTERNAL, "outputs": [
        {"name": "output-0", "shape": [2, 2], "datatype": "FP32", "data": [0.9, 0.1, 0.2, 0.8]}]}
    server = ServerProcess.with_key(external_home, free_port(), args=("--pending-age", "1")).start()
    try:
        first = _event(server, path, "v1-pair", "response", {"predictions": [0.25]})
        second = _event(server, path, "v1-pair", "request", {"instances": request_rows[:1]})
        again = _event(server, path, "v1-pair", "response", {"predictions": [0.25]})
        _event(server, "/v1/events", "v2-pair", "request", v2_request,
               **{"ce-inferenceservicename": EXTERNAL})
        v2 = _event(server, "/v1/events", "v2-pair", "response", v2_response,
                    **{"ce-inferenceservicename": EXTERNAL})
        lonely = _event(server, path, "lonely", "request", {"instances": request_rows[:1]})
        bad = _event(server, path, "bad", "request", {"rows": []})
        import time
        time.sleep(3)
    finally:
        server.stop()
    assert first.json()["status"] == "pending" and second.json()["prediction_ids"] == ["v1-pair"]
    assert again.json()["status"] == "duplicate"
    assert v2.json()["prediction_ids"] == ["v2-pair:0", "v2-pair:1"]
    assert lonely.json()["status"] == "pending" and bad.status_code == 422
    got = _lake(external_home, "SELECT prediction_id, label, score, ts::VARCHAR, request_id "
                               "FROM predictions ORDER BY prediction_id", EXTERNAL)
    assert got == [("v1-pair", 0, 0.25, "2026-02-03 11:00:00+00", "v1-pair"),
                   ("v2-pair:0", 0, pytest.approx(0.1), "2026-02-03 11:00:00+00", "v2-pair"),
                   ("v2-pair:1", 1, pytest.approx(0.8), "2026-02-03 11:00:00+00", "v2-pair")]
    reasons = [r[0] for r in _lake(external_home, "SELECT reason FROM quarantine ORDER BY received_at", EXTERNAL)]
    assert reasons == [ke.NO_REQUEST_KEY.format(keys=["rows"]),
                       f"CloudEvent request 'lonely' for model '{EXTERNAL}' found no matching "
                       f"response within 1 s"]


def test_feedback_is_read_through_the_output_kind_and_stored_typed(external_home, request_rows) -> None:
    with ServerProcess.with_key(external_home, free_port()) as server:
        httpx.post(f"{server.url}/v1/models/{REGRESSION}/log", headers=server.headers,
                   json={"rows": [
            {"prediction_id": "r1", "inputs": request_rows[0], "outputs": {"value": 2400.0}}]})
        httpx.post(f"{server.url}/v1/models/{EXTERNAL}/log", headers=server.headers,
                   json={"rows": [
            {"prediction_id": "c1", "inputs": request_rows[0], "outputs": {"score": 0.7}}]})
        value = httpx.post(f"{server.url}/v1/models/{REGRESSION}/feedback", headers=server.headers,
                           json={"labels": [{"prediction_id": "r1", "label": 2511.5}]})
        named = httpx.post(f"{server.url}/v1/models/{EXTERNAL}/feedback", headers=server.headers,
                           json={"labels": [{"prediction_id": "c1", "label": "bad"}]})
        wrong = httpx.post(f"{server.url}/v1/models/{REGRESSION}/feedback", headers=server.headers,
                           json={"labels": [{"prediction_id": "r1", "label": "high"}]})
    assert value.status_code == named.status_code == 200
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["message"] == \
        "field 'label' must be a finite number (the true value)"
    assert _lake(external_home, "SELECT y_true, y_value FROM feedback", REGRESSION) == [(None, 2511.5)]
    assert _lake(external_home, "SELECT y_true, y_value FROM feedback", EXTERNAL) == [(0, None)]
    assert _lake(external_home, "SELECT prediction_id, y_true, value FROM labelled", REGRESSION) == [
        ("r1", 2511.5, 2400.0)]
