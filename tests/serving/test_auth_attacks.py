"""The API keys of a real ``raigov serve`` process, attacked one way per test: no token,
a wrong token, the wrong scope, another model's key, expired and revoked keys, a burst
over the rate limit; what stays open (``/healthz``) and what the lake records (the
key's name on every captured and quarantined row)."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from raigov.home import Home
from raigov.keys import create_key
from raigov.models.registry import register_model
from raigov.models.serving import auth
from raigov.models.serving.rate_limit import RATE_LIMITED
from raigov.models.serving.server_process import ServerProcess, free_port
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
OTHER = "credit-elsewhere"           # a second (external) model, for model-bound keys
PREDICT = f"/v1/models/{MODEL}/predict"
FEEDBACK = f"/v1/models/{MODEL}/feedback"


def _cli(home: Home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, timeout=120)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def gate(template_home: Home, credit_demo, tmp_path_factory) -> dict:
    """One server for the module and a key per role: predict-only, feedback-only, one
    bound to the other model, metrics, and one limited to 2 requests/s."""
    root = tmp_path_factory.mktemp("gate") / "home"
    shutil.copytree(template_home.root, root)
    home = Home.resolve(root)
    empty = root.parent / "no-artifact"
    empty.mkdir()
    register_model(home, credit_demo.spec.model_copy(update={"name": OTHER}), artifact=empty,
                   reference=credit_demo.reference)
    tokens = {
        "predictor": create_key(home, "predictor", scopes=["predict"]).token,
        "labeller": create_key(home, "labeller", scopes=["feedback"]).token,
        "elsewhere": create_key(home, "elsewhere", scopes=["predict", "log"], models=[OTHER]).token,
        "watcher": create_key(home, "watcher", scopes=["metrics"]).token,
        "limited": create_key(home, "limited", scopes=["predict"], rate_per_s=2).token,
    }
    server = ServerProcess(home, free_port(), token=tokens["predictor"]).start()
    yield {"home": home, "server": server, "tokens": tokens}
    server.stop()


def _post(gate: dict, path: str, token: str | None, body: dict) -> httpx.Response:
    headers = _bearer(token) if token else {}
    return httpx.post(gate["server"].url + path, json=body, headers=headers, timeout=30)


def test_a_request_without_a_token_gets_401_with_a_bearer_challenge(gate, request_rows) -> None:
    r = _post(gate, PREDICT, None, {"rows": request_rows[:1]})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json() == {"detail": auth.MISSING_TOKEN}


def test_a_wrong_token_gets_401_whether_malformed_unknown_or_with_a_wrong_secret(
        gate, request_rows) -> None:
    good = gate["tokens"]["predictor"]
    wrong_secret = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    cases = {"not-a-raigov-token": auth.MALFORMED_TOKEN,
             "rgk_000000000000_" + "x" * 43: auth.UNKNOWN_TOKEN,
             wrong_secret: auth.UNKNOWN_TOKEN}
    for token, message in cases.items():
        r = _post(gate, PREDICT, token, {"rows": request_rows[:1]})
        assert (r.status_code, r.json()["detail"]) == (401, message), token
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    basic = httpx.post(gate["server"].url + PREDICT, json={"rows": request_rows[:1]},
                       headers={"Authorization": f"Basic {good}"})
    assert basic.status_code == 401 and basic.json()["detail"] == auth.MALFORMED_TOKEN


def test_predict_with_a_feedback_key_gets_403_naming_the_predict_scope(gate, request_rows) -> None:
    r = _post(gate, PREDICT, gate["tokens"]["labeller"], {"rows": request_rows[:1]})
    assert r.status_code == 403
    assert r.json()["detail"] == auth.MISSING_SCOPE.format(
        name="labeller", scope="predict", route=f"POST {PREDICT}", scopes="feedback")
    assert "'predict'" in r.json()["detail"]


def test_a_key_bound_to_another_model_gets_403_naming_the_model(gate, request_rows) -> None:
    r = _post(gate, PREDICT, gate["tokens"]["elsewhere"], {"rows": request_rows[:1]})
    assert r.status_code == 403
    assert r.json()["detail"] == auth.OTHER_MODEL.format(name="elsewhere", model=MODEL, models=OTHER)
    by_header = httpx.post(gate["server"].url + "/v1/events", content=b"{}", headers={
        **_bearer(gate["tokens"]["elsewhere"]), "ce-inferenceservicename": MODEL})
    assert by_header.status_code == 403 and f"model '{MODEL}'" in by_header.json()["detail"]
    own = _post(gate, f"/v1/models/{OTHER}/log", gate["tokens"]["elsewhere"], {"rows": [
        {"inputs": request_rows[0], "outputs": {"score": 0.4}}]})
    assert own.status_code == 200, own.text


def test_an_expired_key_gets_401_saying_it_expired(gate, request_rows) -> None:
    # Far enough ahead that the CLI (seconds to start on a loaded machine) makes it first.
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=12)).isoformat()
    made = _cli(gate["home"], "keys", "create", "short-lived", "--scope", "predict",
                "--expires", soon)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    before = _post(gate, PREDICT, token, {"rows": request_rows[:1]})
    time.sleep(max(0.0, (dt.datetime.fromisoformat(soon)
                         - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.2)
    after = _post(gate, PREDICT, token, {"rows": request_rows[:1]})
    assert before.status_code == 200, before.text
    assert after.status_code == 401 and after.json()["detail"].startswith(
        "API key 'short-lived' expired at ")


def test_a_key_revoked_while_the_server_runs_gets_401_at_its_next_request(gate, request_rows) -> None:
    made = _cli(gate["home"], "keys", "create", "soon-revoked", "--scope", "predict")
    token = made.stdout.strip().splitlines()[-1]
    assert _post(gate, PREDICT, token, {"rows": request_rows[:1]}).status_code == 200
    revoked = _cli(gate["home"], "keys", "revoke", "soon-revoked")
    assert revoked.returncode == 0, revoked.stderr
    r = _post(gate, PREDICT, token, {"rows": request_rows[:1]})
    assert r.status_code == 401 and r.json()["detail"].startswith("API key 'soon-revoked' was revoked at ")


def test_healthz_is_open_and_names_no_model(gate) -> None:
    r = httpx.get(gate["server"].url + "/healthz")
    body = r.json()
    assert r.status_code == 200 and (body["status"], body["problems"]) == ("ok", [])
    assert set(body) == {"status", "problems", "warnings", "capture"}   # counts, no rows
    assert MODEL not in r.text and OTHER not in r.text


def test_models_metrics_and_docs_need_a_key_and_metrics_needs_its_scope(gate) -> None:
    url = gate["server"].url
    predictor, watcher = _bearer(gate["tokens"]["predictor"]), _bearer(gate["tokens"]["watcher"])
    for path in ("/v1/models", "/metrics", "/docs", "/openapi.json", "/redoc"):
        assert httpx.get(url + path).status_code == 401, path
    for path in ("/v1/models", "/docs", "/openapi.json", "/redoc"):
        assert httpx.get(url + path, headers=predictor).status_code == 200, path
    assert {m["name"] for m in httpx.get(url + "/v1/models", headers=watcher).json()["models"]} \
        == {MODEL, OTHER}
    refused = httpx.get(url + "/metrics", headers=predictor)
    assert refused.status_code == 403 and "scope 'metrics'" in refused.json()["detail"]
    text = httpx.get(url + "/metrics", headers=watcher).text
    assert 'raigov_auth_failures_total{reason="missing"}' in text
    assert 'raigov_auth_failures_total{reason="scope"}' in text


def test_a_burst_over_the_rate_limit_gets_429_with_retry_after(gate) -> None:
    url, limited = gate["server"].url, _bearer(gate["tokens"]["limited"])
    with httpx.Client(base_url=url, headers=limited, timeout=30) as client:
        started = time.monotonic()
        codes = [client.get("/v1/models") for _ in range(8)]
        elapsed = time.monotonic() - started
        assert [r.status_code for r in codes[:2]] == [200, 200]     # burst = max(1, 2/s)
        over = [r for r in codes if r.status_code == 429]
        assert {r.status_code for r in codes} == {200, 429}
        # at most the burst plus what 2 tokens/s refilled meanwhile got through
        assert len(codes) - len(over) <= 2 + math.ceil(elapsed * 2)
        retry = int(over[0].headers["retry-after"])
        assert retry >= 1
        assert over[0].json()["detail"] == RATE_LIMITED.format(name="limited", rate=2, retry=retry)
        time.sleep(retry)
        assert client.get("/v1/models").status_code == 200
    text = httpx.get(url + "/metrics", headers=_bearer(gate["tokens"]["watcher"])).text
    line = next(x for x in text.splitlines() if x.startswith('raigov_rate_limited_total{key="limited"}'))
    assert float(line.split()[-1]) == len(over)


def _read_lake(home: Home, table: str) -> list[tuple]:
    """Straight from the Parquet files with DuckDB (not through raigov's views)."""
    pattern = str(home.lake_table(table) / "**" / "*.parquet")
    with duckdb.connect() as con:
        return con.execute(f"SELECT key, count(*) FROM read_parquet('{pattern}', "
                           "hive_partitioning = true, union_by_name = true) "
                           "GROUP BY key ORDER BY key").fetchall()


def test_captured_prediction_feedback_and_quarantine_rows_carry_the_key_name(
        model_home, request_rows) -> None:
    sender = create_key(model_home, "sender", scopes=["predict"]).token
    labeller = create_key(model_home, "labeller", scopes=["feedback"]).token
    server = ServerProcess(model_home, free_port(), token=sender).start()
    try:
        with server.client() as client:
            served = client.post(PREDICT, json={"rows": request_rows[:5]}).json()["predictions"]
            bad = client.post(PREDICT, json={"rows": [{**request_rows[0], "age": "old"}]})
            labels = [{"prediction_id": p["prediction_id"], "label": 1} for p in served[:3]]
            fed = client.post(FEEDBACK, json={"labels": labels}, headers=_bearer(labeller))
            bad_label = client.post(FEEDBACK, json={"labels": [{"prediction_id": "x", "label": 9}]},
                                    headers=_bearer(labeller))
    finally:
        server.stop()
    assert bad.status_code == 422 and fed.status_code == 200 and bad_label.status_code == 422
    assert _read_lake(model_home, "predictions") == [("sender", 5)]
    assert _read_lake(model_home, "feedback") == [("labeller", 3)]
    assert _read_lake(model_home, "quarantine") == [("labeller", 1), ("sender", 1)]


def test_the_python_logger_records_no_key_or_the_name_its_caller_gives(model_home, request_rows) -> None:
    from raigov.models.capture.logger import PredictionLogger

    rows = request_rows[:4]
    with PredictionLogger(MODEL, home=model_home) as log:
        log.log_predictions(rows, scores=[0.2, 0.4, 0.6, 0.8])
    with PredictionLogger(MODEL, home=model_home, key="batch-job") as log:
        ids = log.log_predictions(rows[:2], scores=[0.1, 0.9]).prediction_ids
        log.log_feedback(ids, [0, 1])
    assert _read_lake(model_home, "predictions") == [("batch-job", 2), (None, 4)]
    assert _read_lake(model_home, "feedback") == [("batch-job", 2)]


def test_old_segments_without_the_key_column_still_read_with_null(model_home: Home) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from raigov.store.lake import lake_connection, partition_dir

    folder = partition_dir(model_home, "feedback", MODEL, "2026-01-05")
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"prediction_id": ["old-1"], "y_true": pa.array([1], pa.int64()),
                             "y_value": pa.array([None], pa.float64()),
                             "received_at": pa.array([dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)],
                                                     pa.timestamp("us", tz="UTC"))}),
                   Path(folder) / "old.parquet")
    with lake_connection(model_home, model=MODEL) as con:
        assert con.execute("SELECT prediction_id, key FROM feedback").fetchall() == [("old-1", None)]
