"""Acceptance: the same network's predictions, once served by ``raigov serve`` and once
made elsewhere and logged (through /log, through the Python logger, through KServe's
CloudEvents), give the same metric rows in ``raigov monitor run``: every row of every
family except explanations, which an external model cannot have and reports as
``insufficient_data`` with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from raigov.home import Home
from raigov.models.serving import kserve_events as ke
from raigov.models.capture.logger import PredictionLogger
from raigov.models.registry import register_model
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.monitors.explain import SERVED_ELSEWHERE
from raigov.monitors.store import read_metric_rows
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
VIA_LOG, VIA_PYTHON, VIA_KSERVE = "credit-via-log", "credit-via-python", "credit-via-kserve"
DAYS = ("2026-06-01T09:00:00+00:00", "2026-06-02T15:30:00+00:00")
REQUEST_ROWS = 25
COMPARED = ["version", "window_start", "window_end", "family", "metric", "segment", "value",
            "ci_low", "ci_high", "n", "status", "details"]


def _requests(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """(timestamp, rows) of each predict request: two days, 25 rows a request."""
    chunks = [rows[i:i + REQUEST_ROWS] for i in range(0, len(rows), REQUEST_ROWS)]
    return [(DAYS[0] if i < len(chunks) // 2 else DAYS[1], chunk) for i, chunk in enumerate(chunks)]


def _v2_inputs(row: dict) -> dict:
    return {"inputs": [{"name": c, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64",
                        "data": [v]} for c, v in row.items()]}


def _post_event(client: httpx.Client, event_id: str, half: str, body: dict, ts: str) -> None:
    r = client.post(f"/v1/models/{VIA_KSERVE}/events", content=json.dumps(body), headers={
        "ce-id": event_id, "ce-type": ke.REQUEST_TYPE if half == "request" else ke.RESPONSE_TYPE,
        "ce-source": "http://credit-predictor.default/", "ce-specversion": "1.0", "ce-time": ts,
        "ce-inferenceservicename": "credit", "ce-component": "predictor",
        "ce-endpoint": "default", "content-type": "application/json"})
    assert r.status_code == 200 and r.json()["status"] in ("pending", "logged"), r.text


@pytest.fixture(scope="module")
def monitored_home(tmp_path_factory, template_home: Home, credit_demo, request_rows) -> Home:
    import shutil

    root = tmp_path_factory.mktemp("acceptance") / "home"
    shutil.copytree(template_home.root, root)
    home = Home.resolve(root)
    for name in (VIA_LOG, VIA_PYTHON, VIA_KSERVE):
        empty = root.parent / f"no-artifact-{name}"
        empty.mkdir()
        register_model(home, credit_demo.spec.model_copy(update={"name": name}), artifact=empty,
                       reference=credit_demo.reference)
    truth = credit_demo.heldout["y_true"].astype(int).tolist()
    served: list[tuple[str, dict, dict]] = []          # (timestamp, row, prediction)
    with ServerProcess.with_key(home, free_port()) as server, server.client() as client:
        for ts, chunk in _requests(request_rows):
            r = client.post(f"/v1/models/{MODEL}/predict", json={"rows": chunk, "timestamp": ts})
            assert r.status_code == 200, r.text
            served += [(ts, row, p) for row, p in zip(chunk, r.json()["predictions"])]
        for ts, chunk in _requests(list(range(len(served)))):
            part = [served[i] for i in chunk]
            r = client.post(f"/v1/models/{VIA_LOG}/log", json={"timestamp": ts, "rows": [
                {"prediction_id": p["prediction_id"], "inputs": row, "outputs": {"score": p["score"]}}
                for _, row, p in part]})
            assert r.status_code == 200, r.text
        for i, (ts, row, p) in enumerate(served):       # one inference an event pair
            request = {"instances": [row]} if i % 2 else _v2_inputs(row)
            response = {"predictions": [p["score"]]} if i % 2 else {
                "model_name": "credit", "id": p["prediction_id"],
                "outputs": [{"name": "output-0", "shape": [1], "datatype": "FP64", "data": [p["score"]]}]}
            halves = [("request", request), ("response", response)]
            for half, body in (halves if i % 3 else halves[::-1]):
                _post_event(client, p["prediction_id"], half, body, ts)
        labelled = [(p["prediction_id"], truth[i]) for i, (_, _, p) in enumerate(served) if i % 4 != 3]
        for name in (MODEL, VIA_LOG, VIA_KSERVE):
            r = client.post(f"/v1/models/{name}/feedback", json={"labels": [
                {"prediction_id": pid, "label": credit_demo.spec.classes[y] if name == VIA_LOG else y}
                for pid, y in labelled]})
            assert r.status_code == 200, r.text
    with PredictionLogger(VIA_PYTHON, home=home) as log:
        for ts, chunk in _requests(list(range(len(served)))):
            part = [served[i] for i in chunk]
            result = log.log_predictions([row for _, row, _ in part],
                                         labels=[p["label"] for _, _, p in part],
                                         scores=[p["score"] for _, _, p in part],
                                         prediction_ids=[p["prediction_id"] for _, _, p in part],
                                         timestamp=pd.Timestamp(ts).to_pydatetime())
            assert result.quarantined == 0, result.errors
        log.log_feedback([pid for pid, _ in labelled], [y for _, y in labelled])
    run = subprocess.run([sys.executable, "-m", "raigov.cli", "monitor", "run", "--home", str(root)],
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-4000:]
    return home


def _rows(home: Home, model: str) -> pd.DataFrame:
    frame = read_metric_rows(home, model=model)
    frame = frame[COMPARED].sort_values(["window_start", "family", "metric", "segment"])
    return frame.astype({"n": "Int64"}).reset_index(drop=True)   # explain rows may lack n


@pytest.mark.parametrize("external", [VIA_LOG, VIA_PYTHON, VIA_KSERVE])
def test_logged_predictions_get_every_metric_row_the_served_ones_get(monitored_home, external) -> None:
    served, logged = _rows(monitored_home, MODEL), _rows(monitored_home, external)
    assert set(served["window_start"].dt.date.astype(str)) == {"2026-06-01", "2026-06-02"}
    assert not (served["status"] == "error").any() and not (logged["status"] == "error").any()
    served_rest = served[served["family"] != "explain"].reset_index(drop=True)
    logged_rest = logged[logged["family"] != "explain"].reset_index(drop=True)
    assert set(served_rest["family"]) >= {"quality", "drift", "performance", "fairness"}
    assert len(served_rest) > 100
    pd.testing.assert_frame_equal(logged_rest, served_rest, check_exact=True)


@pytest.mark.parametrize("external", [VIA_LOG, VIA_PYTHON, VIA_KSERVE])
def test_an_external_models_explanations_are_insufficient_data_with_the_reason(monitored_home, external) -> None:
    served, logged = _rows(monitored_home, MODEL), _rows(monitored_home, external)
    explained = served[served["family"] == "explain"]
    unexplained = logged[logged["family"] == "explain"]
    assert (explained["status"] == "ok").sum() > 0
    assert len(unexplained) > 0 and set(unexplained["status"]) == {"insufficient_data"}
    assert {d["reason"] for d in unexplained["details"]} == {SERVED_ELSEWHERE.format(model=external)}
    assert unexplained["value"].isna().all()
