"""Inputs that cannot rewrite history, against a real ``raigov serve`` process: event
times ahead of the clock are refused on every route, labels only for served ids, the
first label stands, corrections are explicit and ledgered, duplicate ids are refused;
every refused row is quarantined with its reason."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pytest

from raigov.canonical import utcnow
from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.models.serving import feedback as fb
from raigov.models.serving import feedback_body as body
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.store.catalog import catalog
from raigov.store.lake import lake_connection
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
PREDICT = f"/v1/models/{MODEL}/predict"
FEEDBACK = f"/v1/models/{MODEL}/feedback"


@pytest.fixture
def server(model_home):
    with ServerProcess.with_key(model_home, free_port()) as running:
        yield running


def _lake(home: Home, sql: str) -> list[tuple]:
    with lake_connection(home, model=MODEL) as con:
        return con.execute(sql).fetchall()


def _when(**ahead: float) -> str:
    return (utcnow() + dt.timedelta(**ahead)).isoformat()


def _quarantined_reasons(home: Home) -> list[list[dict]]:
    return [json.loads(r[0]) for r in _lake(home, "SELECT reasons FROM quarantine ORDER BY received_at, row_index")]


def test_a_prediction_dated_400_days_or_10_minutes_ahead_is_refused_and_quarantined(
        server, model_home, request_rows) -> None:
    with server.client() as client:
        far = client.post(PREDICT, json={"rows": request_rows[:3], "timestamp": _when(days=400)})
        near = client.post(PREDICT, json={"rows": request_rows[:2], "timestamp": _when(minutes=10)})
        ok = client.post(PREDICT, json={"rows": request_rows[:1], "timestamp": _when(minutes=2)})
        past = client.post(PREDICT, json={"rows": request_rows[:1], "timestamp": _when(days=-30)})
    assert far.status_code == 422 and near.status_code == 422
    [problem] = far.json()["detail"]
    assert (problem["field"], problem["check"]) == ("timestamp", "future")
    assert " is 400.0 days ahead of the server clock " in problem["message"]
    assert "at most the clock skew of 300 s ahead is accepted" in problem["message"]
    assert far.json()["quarantined"] == 3 and near.json()["detail"][0]["check"] == "future"
    assert "10.0 min ahead" in near.json()["detail"][0]["message"]
    assert ok.status_code == 200
    assert past.status_code == 200, "the service key holds scope backfill"
    server.stop()
    assert _lake(model_home, "SELECT count(*) FROM predictions") == [(2,)]
    reasons = _quarantined_reasons(model_home)
    assert len(reasons) == 5
    assert [r[0]["check"] for r in reasons] == ["future"] * 5
    assert reasons[0][0]["message"] == problem["message"]


def test_a_past_timestamp_needs_a_key_with_scope_backfill(model_home, request_rows) -> None:
    with ServerProcess.with_key(model_home, free_port(), scopes=("predict", "log", "feedback")) as plain:
        with plain.client() as client:
            past = client.post(PREDICT, json={"rows": request_rows[:2], "timestamp": _when(days=-30)})
            logged = client.post(f"/v1/models/{MODEL}/log", json={"rows": [
                {"inputs": request_rows[0], "outputs": {"score": 0.4},
                 "timestamp": _when(hours=-2)}]})
            recent = client.post(PREDICT, json={"rows": request_rows[:1], "timestamp": _when(minutes=-2)})
            [pid] = [p["prediction_id"] for p in recent.json()["predictions"]]
            late_label = client.post(FEEDBACK, json={"labels": [{"prediction_id": pid, "label": 1}],
                                                     "timestamp": _when(days=-3)})
    assert past.status_code == 403 and logged.status_code == 403, (past.text, logged.text)
    assert late_label.status_code == 403 and late_label.json()["detail"][0]["check"] == "backfill"
    assert past.json()["detail"][0]["check"] == "backfill"
    assert "backfill" in past.json()["detail"][0]["message"]
    assert recent.status_code == 200
    assert _lake(model_home, "SELECT count(*) FROM predictions") == [(1,)]
    assert [r[0]["check"] for r in _quarantined_reasons(model_home)] == ["backfill"] * 4


def test_logged_rows_and_cloudevents_dated_ahead_of_the_clock_are_refused(
        server, model_home, request_rows) -> None:
    outputs = {"label": 1, "score": 0.7}
    with server.client() as client:
        own = client.post(f"/v1/models/{MODEL}/log", json={"rows": [
            {"inputs": request_rows[0], "outputs": outputs},
            {"inputs": request_rows[1], "outputs": outputs, "timestamp": _when(days=2)}]})
        request_wide = client.post(f"/v1/models/{MODEL}/log", json={
            "timestamp": _when(hours=1), "rows": [{"inputs": request_rows[0], "outputs": outputs}]})
        headers = {"ce-id": "e1", "ce-source": "kserve", "ce-specversion": "1.0",
                   "ce-time": _when(days=1)}
        first = client.post(f"/v1/models/{MODEL}/events", json={"instances": [request_rows[0]]},
                            headers={**headers, "ce-type": "org.kubeflow.serving.inference.request"})
        pair = client.post(f"/v1/models/{MODEL}/events", json={"predictions": [0.7]},
                           headers={**headers, "ce-type": "org.kubeflow.serving.inference.response"})
    assert own.status_code == 422 and request_wide.status_code == 422
    assert [(d["row"], d["field"], d["check"]) for d in own.json()["detail"]] == [(1, "timestamp", "future")]
    assert request_wide.json()["detail"][0]["check"] == "future"
    assert first.status_code == 200 and first.json()["status"] == "pending"
    assert pair.status_code == 422
    assert [(d["field"], d["check"]) for d in pair.json()["detail"]] == [("ce-time", "future")]
    server.stop()
    assert _lake(model_home, "SELECT count(*) FROM predictions") == [(0,)]
    assert _lake(model_home, "SELECT count(*) FROM quarantine") == [(4,)]


def _predict(client: httpx.Client, rows: list[dict]) -> list[str]:
    response = client.post(PREDICT, json={"rows": rows})
    assert response.status_code == 200, response.text
    return [p["prediction_id"] for p in response.json()["predictions"]]


def test_labels_for_ids_never_served_are_refused_naming_them_and_quarantined(
        server, model_home, request_rows) -> None:
    with server.client() as client:
        [served] = _predict(client, request_rows[:1])
        never = "0190a7c0-0000-7000-8000-000000000000"
        r = client.post(FEEDBACK, json={"labels": [{"prediction_id": served, "label": 1},
                                                   {"prediction_id": never, "label": 0},
                                                   {"prediction_id": "made-up", "label": 1}]})
    assert r.status_code == 422
    assert [(d["row"], d["check"], d["value"]) for d in r.json()["detail"]] == [
        (1, "unknown", never), (2, "unknown", "made-up")]
    assert r.json()["detail"][0]["message"] == fb.UNKNOWN_ID.format(id=never, model=MODEL)
    server.stop()
    assert _lake(model_home, "SELECT count(*) FROM feedback") == [(0,)], "a request is atomic"
    quarantined = _lake(model_home, "SELECT row_index, reason FROM quarantine ORDER BY row_index")
    assert [q[0] for q in quarantined] == [0, 1, 2]
    assert quarantined[1][1] == fb.UNKNOWN_ID.format(id=never, model=MODEL)


def test_a_second_label_is_409_and_the_first_label_stands(server, model_home, request_rows) -> None:
    with server.client() as client:
        ids = _predict(client, request_rows[:2])
        first = client.post(FEEDBACK, json={"labels": [{"prediction_id": ids[0], "label": 1}]})
        second = client.post(FEEDBACK, json={"labels": [{"prediction_id": ids[0], "label": 0},
                                                        {"prediction_id": ids[1], "label": 0}]})
    assert first.status_code == 200
    assert second.status_code == 409
    [problem] = second.json()["detail"]
    assert (problem["row"], problem["check"]) == (0, "first_label")
    assert problem["message"] == fb.ALREADY_LABELLED.format(id=ids[0], model=MODEL)
    server.stop()
    assert _lake(model_home, "SELECT prediction_id, y_true FROM labelled WHERE y_true IS NOT NULL") == [
        (ids[0], 1.0)]
    assert _lake(model_home, "SELECT count(*) FROM quarantine") == [(2,)]


def test_a_label_sealed_by_an_earlier_server_still_stands(model_home, request_rows) -> None:
    with ServerProcess.with_key(model_home, free_port()) as first_server:
        [pid] = _predict(first_server.client(), request_rows[:1])
        assert httpx.post(first_server.url + FEEDBACK, headers=first_server.headers, json={"labels": [
            {"prediction_id": pid, "label": 0}]}).status_code == 200
    with ServerProcess.with_key(model_home, free_port()) as later:      # knows the id from the lake only
        again = httpx.post(later.url + FEEDBACK, headers=later.headers, json={"labels": [{"prediction_id": pid, "label": 1}]})
    assert again.status_code == 409 and again.json()["detail"][0]["check"] == "first_label"


def test_duplicate_ids_in_one_request_are_422(server, model_home, request_rows) -> None:
    with server.client() as client:
        ids = _predict(client, request_rows[:2])
        r = client.post(FEEDBACK, json={"labels": [{"prediction_id": ids[0], "label": 1},
                                                   {"prediction_id": ids[1], "label": 1},
                                                   {"prediction_id": ids[0], "label": 0}]})
    assert r.status_code == 422
    message = body.REPEATED_ID.format(id=ids[0], rows=[0, 2])
    assert [(d["row"], d["check"], d["message"]) for d in r.json()["detail"]] == [
        (0, "unique", message), (2, "unique", message)]
    server.stop()
    assert _lake(model_home, "SELECT count(*) FROM feedback") == [(0,)]


def test_a_label_dated_ahead_of_the_clock_is_refused(server, request_rows) -> None:
    with server.client() as client:
        [pid] = _predict(client, request_rows[:1])
        r = client.post(FEEDBACK, json={"labels": [{"prediction_id": pid, "label": 1}],
                                        "timestamp": _when(days=3)})
    assert r.status_code == 422 and r.json()["detail"][0]["check"] == "future"


def test_a_correction_is_accepted_kept_beside_the_first_label_and_ledgered(
        server, model_home, request_rows) -> None:
    with server.client() as client:
        ids = _predict(client, request_rows[:3])
        client.post(FEEDBACK, json={"labels": [{"prediction_id": p, "label": 1} for p in ids]})
        no_reason = client.post(FEEDBACK, json={"labels": [{"prediction_id": ids[0], "label": 0}],
                                                "correction": True})
        nothing = client.post(FEEDBACK, json={"labels": [
            {"prediction_id": _predict(client, request_rows[:1])[0], "label": 0,
             "correction": True, "reason": "typo"}]})
        fixed = client.post(FEEDBACK, json={"correction": True, "reason": "re-audited file 7",
                                            "labels": [{"prediction_id": ids[0], "label": 0},
                                                       {"prediction_id": ids[1], "label": "bad",
                                                        "reason": "customer defaulted"}]})
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["message"] == body.NO_REASON
    assert nothing.status_code == 409 and nothing.json()["detail"][0]["check"] == "first_label"
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["accepted"], fixed.json()["corrections"]) == (2, 2)
    server.stop()
    rows = _lake(model_home, "SELECT prediction_id, y_true, coalesce(correction, false), reason "
                             "FROM feedback ORDER BY received_at, prediction_id")
    assert sorted(r for r in rows if not r[2]) == sorted((p, 1, False, None) for p in ids)
    assert sorted(r for r in rows if r[2]) == sorted([(ids[0], 0, True, "re-audited file 7"),
                                                      (ids[1], 0, True, "customer defaulted")])
    in_force = dict(_lake(model_home, "SELECT prediction_id, y_true FROM labelled WHERE y_true IS NOT NULL"))
    assert {p: in_force[p] for p in ids} == {ids[0]: 0.0, ids[1]: 0.0, ids[2]: 1.0}
    with catalog(model_home, read_only=True) as con:
        [event] = read_events(con, kind=fb.CORRECTION_EVENT)
    assert event.seq == fixed.json()["ledger_seq"]
    assert event.subject == f"{MODEL}@1" and event.actor == f"api key 'server-{server.port}'"
    assert event.payload["corrections"] == [
        {"prediction_id": ids[0], "reason": "re-audited file 7"},
        {"prediction_id": ids[1], "reason": "customer defaulted"}]
    assert set(event.payload) == {"model", "version", "count", "received_at", "corrections"}, \
        "ids and reasons, no label values"


def test_an_id_another_server_served_is_refused_until_sealed_then_accepted(
        model_home, request_rows) -> None:
    with ServerProcess.with_key(model_home, free_port()) as taking, \
            ServerProcess.with_key(model_home, free_port(), args=("--seal-interval-s", "2")) as serving:
        [pid] = _predict(serving.client(), request_rows[:1])
        early = httpx.post(taking.url + FEEDBACK, headers=taking.headers, json={"labels": [{"prediction_id": pid, "label": 1}]})
        deadline, later = utcnow() + dt.timedelta(seconds=20), None
        while utcnow() < deadline:                      # the client retries, as documented
            later = httpx.post(taking.url + FEEDBACK, headers=taking.headers, json={"labels": [{"prediction_id": pid, "label": 1}]})
            if later.status_code != 422:
                break
            time.sleep(0.2)
    assert early.status_code == 422 and early.json()["detail"][0]["check"] == "unknown"
    assert later is not None and later.status_code == 200
