"""Bounds on a real ``raigov serve``: bodies and row counts over their caps are 413 on
every route, before parsing; numbers out of range are 422 naming the row and column,
never 500; unknown model names share one metrics label; and a large request is worked
off the event loop, so other requests are answered meanwhile."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from raigov.home import Home
from raigov.models.serving.limits import BODY_GREW_TOO_LARGE, BODY_TOO_LARGE, TOO_MANY_ROWS
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.models.serving.telemetry import UNKNOWN_MODEL
from raigov.store.lake import lake_connection
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
ROUTES = {"predict": f"/v1/models/{MODEL}/predict", "log": f"/v1/models/{MODEL}/log",
          "feedback": f"/v1/models/{MODEL}/feedback", "events": f"/v1/models/{MODEL}/events"}
EVENT_HEADERS = {"ce-id": "e1", "ce-type": "org.kubeflow.serving.inference.request",
                 "ce-source": "test", "ce-specversion": "1.0"}


def _lake(home: Home, sql: str) -> list[tuple]:
    with lake_connection(home, model=MODEL) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def small_caps(model_home):
    with ServerProcess.with_key(model_home, free_port(), ("--max-rows", "5", "--max-body-bytes", "40000")) as s:
        yield s


def _bodies(rows: list[dict], n: int) -> dict[str, dict]:
    """A body of ``n`` rows for each route."""
    rows = (rows * (n // len(rows) + 1))[:n]
    return {"predict": {"rows": rows},
            "log": {"rows": [{"inputs": r, "outputs": {"score": 0.5}} for r in rows]},
            "feedback": {"labels": [{"prediction_id": f"p{i}", "label": 1} for i in range(n)]},
            "events": {"instances": rows}}


def test_too_many_rows_are_refused_413_on_every_route_naming_the_count_and_the_cap(
        small_caps, model_home, request_rows) -> None:
    what = {"predict": "rows", "log": "rows", "feedback": "labels", "events": "instances"}
    with small_caps.client(headers=EVENT_HEADERS) as client:
        for route, body in _bodies(request_rows, 6).items():
            r = client.post(ROUTES[route], json=body)
            assert r.status_code == 413, route
            [detail] = r.json()["detail"]
            assert detail["message"] == TOO_MANY_ROWS.format(count=6, what=what[route], cap=5), route
            assert r.json()["quarantined"] == 1
        ok = client.post(ROUTES["predict"], json=_bodies(request_rows, 5)["predict"])
        assert ok.status_code == 200
    small_caps.stop()
    quarantined = _lake(model_home, "SELECT row_index, payload, reason FROM quarantine")
    assert len(quarantined) == 4, "each refused request leaves one row: the reason, no payload"
    assert {(q[0], q[1]) for q in quarantined} == {(None, "")}
    assert all("at most 5 are accepted" in q[2] for q in quarantined)
    assert _lake(model_home, "SELECT count(*) FROM predictions") == [(5,)]


def test_a_body_over_the_cap_is_refused_413_declared_or_chunked(small_caps, request_rows) -> None:
    big = httpx.Request("POST", "/", json=_bodies(request_rows, 200)["predict"]).content
    assert len(big) > 40000

    def chunks():
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    with small_caps.client(headers=EVENT_HEADERS) as client:
        for route in ROUTES:
            declared = client.post(ROUTES[route], content=big)
            assert declared.status_code == 413, route
            assert declared.json()["detail"][0]["message"] == BODY_TOO_LARGE.format(
                size=len(big), cap=40000)
        streamed = client.post(ROUTES["predict"], content=chunks())   # no Content-Length
        assert streamed.status_code == 413
        assert streamed.json()["detail"][0]["message"] == BODY_GREW_TOO_LARGE.format(cap=40000)
        assert client.get("/healthz").status_code == 200


def test_the_default_row_cap_is_ten_thousand(model_home) -> None:
    with ServerProcess.with_key(model_home, free_port()) as server:
        over = _bodies([{}], 10_001)["feedback"]
        r = httpx.post(server.url + ROUTES["feedback"], headers=server.headers, json=over, timeout=60)
        assert r.status_code == 413
        assert r.json()["detail"][0]["message"] == TOO_MANY_ROWS.format(
            count=10_001, what="labels", cap=10_000)


@pytest.mark.parametrize("literal", ["1e400", str(2 ** 70), str(2 ** 64 - 1)])
def test_numbers_beyond_int64_or_float64_are_422_naming_row_and_column(
        small_caps, model_home, request_rows, literal: str) -> None:
    import orjson

    good = orjson.dumps(request_rows[0]).decode()
    bad = good.replace(f'"credit_amount":{request_rows[0]["credit_amount"]}',
                       f'"credit_amount":{literal}')
    assert bad != good
    bodies = {
        "predict": '{"rows": [%s, %s]}' % (good, bad),
        "log": '{"rows": [{"inputs": %s, "outputs": {"score": 0.5}}, '
               '{"inputs": %s, "outputs": {"score": 0.5}}]}' % (good, bad),
        "feedback": '{"labels": [{"prediction_id": "a", "label": 1}, '
                    '{"prediction_id": "b", "label": %s}]}' % literal,
    }
    field = {"predict": "credit_amount", "log": "inputs.credit_amount", "feedback": "label"}
    with small_caps.client() as client:
        for route, body in bodies.items():
            r = client.post(ROUTES[route], content=body.encode())
            assert r.status_code == 422, (route, r.text)
            assert [(d["row"], d["field"]) for d in r.json()["detail"]] == [(1, field[route])], route
            assert r.json()["quarantined"] == 2
    small_caps.stop()
    assert _lake(model_home, "SELECT count(*) FROM quarantine") == [(6,)]
    assert _lake(model_home, "SELECT count(*) FROM predictions") == [(0,)]


def test_unknown_model_names_share_one_metrics_label(small_caps, request_rows) -> None:
    names = [f"probe-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    with small_caps.client() as client:
        for name in names:
            for route in ("predict", "log", "feedback"):
                assert client.post(f"/v1/models/{name}/{route}", json={}).status_code == 404
        assert client.post(ROUTES["predict"], json={"rows": request_rows[:2]}).status_code == 200
        text = client.get("/metrics").text
    assert not [n for n in names if n in text]
    assert f'raigov_requests_total{{model="{UNKNOWN_MODEL}",route="predict",status="404"}} 5.0' in text
    assert f'raigov_requests_total{{model="{UNKNOWN_MODEL}",route="feedback",status="404"}} 5.0' in text
    assert f'raigov_requests_total{{model="{MODEL}",route="predict",status="200"}} 1.0' in text


def test_a_large_request_is_worked_off_the_event_loop(model_home, request_rows) -> None:
    """A 4 MiB request of bad rows takes its server a second or more (validation,
    pandera's report, quarantine); a request sent meanwhile waits for a slice of the
    event loop, not for all of that work."""
    rows = [dict(r, age="old", purpose="nothing") for r in request_rows]
    big = {"rows": (rows * 20)[:7_000]}
    waits: list[float] = []
    with ServerProcess.with_key(model_home, free_port()) as server:
        took: list[float] = []

        def send_big() -> None:
            started = time.monotonic()
            r = httpx.post(server.url + ROUTES["predict"], headers=server.headers, json=big, timeout=120)
            took.append(time.monotonic() - started)
            assert r.status_code == 422

        sender = threading.Thread(target=send_big)
        with server.client(timeout=30) as client:
            client.get("/v1/models")
            sender.start()
            while sender.is_alive():
                started = time.monotonic()
                client.get("/v1/models")
                waits.append(time.monotonic() - started)
            sender.join()
    assert took[0] > 0.5 and len(waits) >= 3, (took, waits)
    assert max(waits) < took[0] / 4, (took, sorted(waits)[-3:])
