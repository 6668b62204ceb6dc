"""``raigov serve`` as a real process: crash safety, concurrent writers, rejected rows,
a full spool, the kill switch, health and metrics."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.home import Home
from raigov.store.lake import lake_connection
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
PREDICT = f"/v1/models/{MODEL}/predict"


def _lake(home: Home, sql: str) -> list[tuple]:
    with lake_connection(home, model=MODEL) as con:
        return con.execute(sql).fetchall()


def _hammer(server: ServerProcess, rows: list[dict], received: list[str], stop: threading.Event,
            seed: int) -> None:
    """Send requests until told to stop or the server goes away; keep every id whose
    response arrived."""
    rng = random.Random(seed)
    with server.client(timeout=10) as client:
        while not stop.is_set():
            batch = rng.sample(rows, rng.randint(1, 8))
            try:
                r = client.post(PREDICT, json={"rows": batch})
            except httpx.TransportError:
                return
            if r.status_code == 200:
                received.extend(p["prediction_id"] for p in r.json()["predictions"])


def test_every_acknowledged_prediction_survives_a_sigkill_exactly_once(model_home, request_rows) -> None:
    server = ServerProcess.with_key(model_home, free_port()).start()
    received: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_hammer, args=(server, request_rows, received, stop, i))
               for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.kill()                                   # mid-stream, no shutdown handler
    stop.set()
    for t in threads:
        t.join()
    assert len(received) > 100
    ServerProcess.with_key(model_home, free_port()).start().stop()   # restart recovers, then seals
    ids = [r[0] for r in _lake(model_home, "SELECT prediction_id FROM predictions")]
    assert len(ids) == len(set(ids)), "no prediction may be captured twice"
    assert set(received) <= set(ids), "every acknowledged prediction is in the lake"


READER = textwrap.dedent("""
    import sys, time
    from raigov.home import Home
    from raigov.store.lake import lake_connection
    home, deadline = Home.resolve(sys.argv[1]), time.monotonic() + float(sys.argv[2])
    reads = 0
    while time.monotonic() < deadline:
        with lake_connection(home) as con:
            con.execute("SELECT count(*), count(DISTINCT prediction_id) FROM predictions").fetchall()
        reads += 1
        time.sleep(0.05)
    print(reads)
""")


def test_two_servers_capture_while_a_third_process_reads_the_lake(model_home, request_rows) -> None:
    servers = [ServerProcess.with_key(model_home, free_port()).start() for _ in range(2)]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(model_home.root), "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[2])
    received: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_hammer, args=(servers[i % 2], request_rows,
                                                      received, stop, i)) for i in range(4)]
    for t in threads:
        t.start()
    out, err = reader.communicate(timeout=60)
    stop.set()
    for t in threads:
        t.join()
    for s in servers:
        s.stop()
    assert reader.returncode == 0, err
    assert int(out) > 10 and "lock" not in err.lower()
    ids = [r[0] for r in _lake(model_home, "SELECT prediction_id FROM predictions")]
    assert len(ids) == len(set(ids)) and set(ids) == set(received)


@pytest.fixture
def server(model_home):
    with ServerProcess.with_key(model_home, free_port(), ("--spool-cap-bytes", "400000")) as s:
        yield s


def _quarantine(home: Home) -> list[tuple]:
    return _lake(home, "SELECT row_index, reason, reasons, payload FROM quarantine ORDER BY received_at")


def test_each_kind_of_bad_request_gets_a_422_naming_the_field_and_is_quarantined(
        server, model_home, request_rows) -> None:
    good = dict(request_rows[0])
    cases = {
        "malformed JSON": (b'{"rows": [{"age": 3', None),
        "missing field": ({"rows": [{k: v for k, v in good.items() if k != "duration"}]}, "duration"),
        "wrong type": ({"rows": [{**good, "credit_amount": "lots"}]}, "credit_amount"),
        "out of range": ({"rows": [{**good, "age": 250}]}, "age"),
    }
    with server.client() as client:
        for name, (body, field) in cases.items():
            r = (client.post(PREDICT, content=body) if isinstance(body, bytes)
                 else client.post(PREDICT, json=body))
            assert r.status_code == 422, name
            detail = r.json()["detail"]
            assert [d["field"] for d in detail] == [field], name
            assert detail[0]["row"] == (None if field is None else 0)
        ok = client.post(PREDICT, json={"rows": request_rows[:5]})
        assert ok.status_code == 200
    server.stop()
    quarantined = _quarantine(model_home)
    assert len(quarantined) == 4
    assert "malformed JSON" in quarantined[0][1] and quarantined[0][3] == '{"rows": [{"age": 3'
    assert [json.loads(q[2])[0]["field"] for q in quarantined[1:]] == ["duration", "credit_amount", "age"]
    assert _lake(model_home, "SELECT count(*) FROM predictions") == [(5,)]


def test_a_batch_with_three_errors_reports_all_three_and_nothing_is_lost(
        server, model_home, request_rows) -> None:
    rows = [dict(r) for r in request_rows[:5]]
    rows[0]["age"] = "old"
    del rows[2]["purpose"]
    rows[4]["duration"] = -3
    with server.client() as client:
        r = client.post(PREDICT, json={"rows": rows})
        accepted = client.post(PREDICT, json={"rows": request_rows[5:12]})
    assert r.status_code == 422 and r.json()["quarantined"] == 5
    assert {(d["row"], d["field"]) for d in r.json()["detail"]} == {
        (0, "age"), (2, "purpose"), (4, "duration")}
    assert accepted.status_code == 200
    server.stop()
    captured = _lake(model_home, "SELECT count(*) FROM predictions")[0][0]
    quarantined = _quarantine(model_home)
    assert captured + len(quarantined) == 5 + 7, "received = captured + quarantined"
    assert [q[0] for q in quarantined] == [0, 1, 2, 3, 4]
    assert "another row is invalid" in quarantined[1][1]


def test_a_full_spool_answers_503_and_capture_resumes_when_it_drains(
        model_home, request_rows) -> None:
    args = ("--spool-cap-bytes", "60000")
    with ServerProcess.with_key(model_home, free_port(), args) as server, \
            server.client(timeout=10) as client:
        first = client.post(PREDICT, json={"rows": request_rows[:3]})
        big = client.post(PREDICT, json={"rows": request_rows * 2})
        assert first.status_code == 200
        assert big.status_code == 503 and "cannot take" in big.json()["detail"]
        time.sleep(2.5)                             # the sealer drains the spool
        later = client.post(PREDICT, json={"rows": request_rows[:4]})
        assert later.status_code == 200
        acknowledged = [p["prediction_id"] for r in (first, later) for p in r.json()["predictions"]]
    ids = [r[0] for r in _lake(model_home, "SELECT prediction_id FROM predictions")]
    assert sorted(ids) == sorted(acknowledged)


def test_a_disabled_model_gets_503_with_the_reason_until_it_is_enabled(server, model_home, request_rows) -> None:
    cli = [sys.executable, "-m", "raigov.cli", "models"]
    home = ["--home", str(model_home.root)]
    body = {"rows": request_rows[:2]}
    assert httpx.post(server.url + PREDICT, json=body, headers=server.headers).status_code == 200
    subprocess.run([*cli, "disable", MODEL, *home, "--reason", "bias under review"], check=True)
    refused = httpx.post(server.url + PREDICT, json=body, headers=server.headers)
    assert refused.status_code == 503 and "bias under review" in refused.json()["detail"]
    models = httpx.get(server.url + "/v1/models", headers=server.headers).json()["models"]
    assert models[0]["status"] == "disabled"
    subprocess.run([*cli, "enable", MODEL, *home], check=True)
    assert httpx.post(server.url + PREDICT, json=body, headers=server.headers).status_code == 200


def test_health_fails_when_the_spool_is_not_writable(server, model_home) -> None:
    assert httpx.get(server.url + "/healthz").status_code == 200
    blocker = model_home.spool / ".healthz"
    blocker.mkdir()                                 # the probe file cannot be created
    r = httpx.get(server.url + "/healthz")
    assert r.status_code == 503 and "spool not writable" in r.json()["problems"][0]
    blocker.rmdir()
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_feedback_joins_its_prediction_and_metrics_count_what_happened(server, model_home, request_rows) -> None:
    with server.client() as client:
        preds = client.post(PREDICT, json={"rows": request_rows[:10],
                                           "timestamp": "2026-02-03T10:00:00Z"}).json()["predictions"]
        labels = [{"prediction_id": p["prediction_id"], "label": 1} for p in preds[:6]]
        assert client.post(f"/v1/models/{MODEL}/feedback", json={"labels": labels}).status_code == 200
        bad = client.post(f"/v1/models/{MODEL}/feedback", json={"labels": [{"prediction_id": "x", "label": 7}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "label"
        text = client.get("/metrics").text
    assert f'raigov_rows_predicted_total{{model="{MODEL}"}} 10.0' in text
    assert f'raigov_rows_quarantined_total{{model="{MODEL}"}} 1.0' in text
    assert f'raigov_labels_received_total{{model="{MODEL}"}} 6.0' in text
    assert "raigov_request_latency_seconds_bucket" in text and "raigov_spool_bytes" in text
    server.stop()
    rows = _lake(model_home, "SELECT date::VARCHAR, count(*), count(y_true) FROM labelled GROUP BY 1")
    assert rows == [("2026-02-03", 10, 6)]


def test_monitor_run_sees_every_row_a_running_server_acknowledged(model_home, request_rows) -> None:
    """Acknowledged rows wait in the server's spool until it seals them: ``monitor run``
    started at once (here while the spool holds 3 s of rows) waits for the seal, so
    the window counts every prediction and label sent before it."""
    from sklearn.metrics import accuracy_score

    server = ServerProcess.with_key(model_home, free_port(), ("--seal-interval-s", "3")).start()
    try:
        with server.client() as client:
            preds = client.post(PREDICT, json={"rows": request_rows[:40],
                                               "timestamp": "2026-02-03T10:00:00Z"}
                                ).json()["predictions"]
            truth = [i % 2 for i in range(30)]
            labels = [{"prediction_id": p["prediction_id"], "label": y}
                      for p, y in zip(preds, truth)]
            assert client.post(f"/v1/models/{MODEL}/feedback",
                               json={"labels": labels}).status_code == 200
        done = subprocess.run([sys.executable, "-m", "raigov.cli", "monitor", "run", "--home",
                               str(model_home.root), "--model", MODEL], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        shown = subprocess.run([sys.executable, "-m", "raigov.cli", "monitor", "show", "--home",
                                str(model_home.root), "--model", MODEL, "--metric",
                                "performance.accuracy", "--format", "json"],
                               capture_output=True, text=True, timeout=120, check=True)
    finally:
        server.stop()
    rows = [r for r in json.loads(shown.stdout)["rows"] if r["segment"] == "all"]
    assert len(rows) == 1 and rows[0]["n"] == 30
    served = [p["label"] for p in preds[:30]]
    assert rows[0]["value"] == pytest.approx(accuracy_score(truth, served))
