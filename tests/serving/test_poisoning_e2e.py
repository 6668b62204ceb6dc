"""The two poisoning attacks of issue 11, end to end as a user meets them: a real
``raigov serve``, ``raigov monitor run`` and ``raigov policy-check --model`` as
subprocesses, on a home where the four-fifths rule's critical alert is open.

1. Matching rows for men and women dated on two future days would pass the rule on
   those windows and auto-resolve the alert, and ``policy-check --model`` (the latest
   window) would let the release through. Now they are refused on every route; rows an
   older raigov let in are ignored with a note; a future window computed by an older
   raigov is never the one policy-check picks.
2. Labels for ids never served, and second labels overwriting the first, would rewrite
   recall. Now they are refused (422, 409); only an explicit, ledgered correction
   changes the label in force, and recall follows it (checked against scikit-learn).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score

from raigov.canonical import utcnow
from raigov.errors import InputError
from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.policies import alerts as al
from raigov.policies.check import FUTURE_WINDOW
from raigov.store.catalog import catalog
from raigov.store.lake import lake_connection
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "packs" / "fairness-four-fifths.yaml"
TODAY = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
YESTERDAY_NOON = TODAY - dt.timedelta(hours=12)


def _raigov(home: Home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@pytest.fixture
def biased(model_home: Home, credit_demo):
    """Yesterday's traffic: every applicant the model approves is sent as a man, except
    30; the ones it refuses and those 30 as women. Labels are the real outcomes."""
    from raigov.models.demo_models import predicted_columns

    spec = credit_demo.spec
    rows = credit_demo.heldout.reset_index(drop=True)
    approved = predicted_columns(credit_demo.definition.trainer, credit_demo.trained, rows,
                                 spec)["label"] == 1
    women = ~approved | (approved & (np.cumsum(approved) <= 30))
    rows = rows.assign(sex=np.where(women, "female", "male"))
    model_home.policies.mkdir(parents=True, exist_ok=True)
    shutil.copy(PACK, model_home.policies / PACK.name)
    return rows, approved


def _alert(home: Home) -> al.Alert:
    [alert] = [a for a in al.list_alerts(home, model=MODEL)
               if a.rule_id == "four-fifths" and a.segment == "sex"]
    return alert


def test_future_rows_and_poisoned_labels_leave_the_alert_open_and_policy_check_failing(
        model_home, credit_demo, biased) -> None:
    rows, approved = biased
    inputs = _records(rows[list(credit_demo.spec.input_columns)])
    with ServerProcess.with_key(model_home, free_port()) as server, server.client() as client:
        served = client.post(f"/v1/models/{MODEL}/predict",
                             json={"rows": inputs, "timestamp": YESTERDAY_NOON.isoformat()})
        assert served.status_code == 200, served.text
        ids = [p["prediction_id"] for p in served.json()["predictions"]]
        truth = [int(y) for y in rows["y_true"]]
        labels = client.post(f"/v1/models/{MODEL}/feedback", json={"labels": [
            {"prediction_id": p, "label": y} for p, y in zip(ids, truth)]})
        assert labels.status_code == 200, labels.text
    first = _raigov(model_home, "monitor", "run")
    assert first.returncode == 0, first.stderr
    alert = _alert(model_home)
    assert (alert.status, alert.severity) == ("open", "critical")

    # Attack 1: matching rows for men and women, dated on two future days.
    matching = [r for r, ok in zip(inputs, approved) if ok][:60]
    poison = [{**r, "sex": sex} for r in matching for sex in ("male", "female")]
    future_days = [TODAY + dt.timedelta(days=d, hours=12) for d in (1, 2)]
    with ServerProcess.with_key(model_home, free_port()) as server, server.client() as client:
        refused = [client.post(f"/v1/models/{MODEL}/predict",
                               json={"rows": poison, "timestamp": day.isoformat()})
                   for day in future_days]
        logged = client.post(f"/v1/models/{MODEL}/log", json={"rows": [
            {"inputs": r, "outputs": {"label": 1, "score": 0.9}, "timestamp": future_days[0].isoformat()}
            for r in poison]})
        # Attack 2: labels for ids never served, and overwrites of the first labels.
        unknown = client.post(f"/v1/models/{MODEL}/feedback", json={"labels": [
            {"prediction_id": f"0190a7c0-0000-7000-8000-{i:012d}", "label": 1} for i in range(50)]})
        overwrite = client.post(f"/v1/models/{MODEL}/feedback", json={"labels": [
            {"prediction_id": p, "label": 1 - y} for p, y in zip(ids, truth)]})
    assert [r.status_code for r in refused] == [422, 422] and logged.status_code == 422
    assert {d["check"] for d in refused[0].json()["detail"]} == {"future"}
    assert unknown.status_code == 422 and overwrite.status_code == 409
    from raigov.models.capture.logger import PredictionLogger
    with PredictionLogger(MODEL, home=model_home) as log, pytest.raises(InputError):
        log.log_predictions(poison, labels=[1] * len(poison), timestamp=future_days[1])

    # An older raigov let such rows in: they lie in the lake, dated in the future.
    _write_as_an_older_raigov(model_home, credit_demo.spec, poison, future_days)
    assert _selection_ratio_by_sex(model_home, future_days) == pytest.approx(1.0), \
        "judged, these windows would pass the four-fifths rule"
    second = _raigov(model_home, "monitor", "run")
    assert second.returncode == 0, second.stderr
    assert "note: ignored 240 row(s) dated in the future" in second.stdout
    assert "0 window(s) computed" in second.stdout
    assert _alert(model_home).status == "open" and _alert(model_home).passing_streak == 0

    # An older raigov even computed those windows: policy-check never picks them.
    _compute_as_an_older_raigov(model_home, future_days)
    check = _raigov(model_home, "policy-check", "--policy", str(PACK), "--model", MODEL,
                    "--format", "json")
    assert check.returncode == 1, check.stderr
    assert "note: 2 computed window(s) of model 'credit-risk' start in the future" in check.stderr
    report = json.loads(check.stdout)
    [sex] = [f for f in report["findings"] if f["rule_id"] == "four-fifths" and f["segment"] == "sex"]
    assert sex["status"] == "fail" and sex["window_start"].startswith((TODAY - dt.timedelta(days=1)).date().isoformat())
    named = _raigov(model_home, "policy-check", "--policy", str(PACK), "--model", MODEL,
                    "--window", future_days[0].date().isoformat())
    assert named.returncode == 2
    assert FUTURE_WINDOW.split(" lies")[0].format(model=MODEL, day=future_days[0].date()) in named.stderr

    # Recall is the real outcomes' (scikit-learn on the same rows), not the overwrites'.
    predicted = approved.astype(int)
    assert _recall(model_home) == pytest.approx(recall_score(truth, predicted))

    # A correction, explicit and with a reason, is what changes the label in force.
    fixed = [i for i, (y, p) in enumerate(zip(truth, predicted)) if y == 1 and p == 1][:25]
    with ServerProcess.with_key(model_home, free_port()) as server:
        corrected = httpx.post(f"{server.url}/v1/models/{MODEL}/feedback", headers=server.headers, json={
            "correction": True, "reason": "files re-audited: these defaulted",
            "labels": [{"prediction_id": ids[i], "label": 0} for i in fixed]})
    assert corrected.status_code == 200, corrected.text
    third = _raigov(model_home, "monitor", "run")
    assert third.returncode == 0 and "1 window(s) computed" in third.stdout, third.stdout
    truth_now = [0 if i in set(fixed) else y for i, y in enumerate(truth)]
    assert _recall(model_home) == pytest.approx(recall_score(truth_now, predicted))
    assert _recall(model_home) < recall_score(truth, predicted)
    with catalog(model_home, read_only=True) as con:
        [event] = read_events(con, kind="feedback.corrected")
    assert sorted(c["prediction_id"] for c in event.payload["corrections"]) == sorted(ids[i] for i in fixed)
    assert _alert(model_home).status == "open"


def _write_as_an_older_raigov(home: Home, spec, rows: list[dict], days: list[dt.datetime]) -> None:
    from raigov.models.capture.records import prediction_table
    from raigov.models.capture.writer import CaptureWriter
    from raigov.models.output_kinds import Outputs
    from raigov.models.validation import validate_rows

    frame, errors = validate_rows(spec, rows)
    assert errors == []
    outputs = Outputs(label=np.ones(len(rows), dtype=np.int64), score=np.full(len(rows), 0.9))
    with CaptureWriter(home) as writer:
        for day in days:
            table, _ = prediction_table(spec, 1, frame, outputs, ts=day)
            writer.append(table, lake_table="predictions", model=MODEL)
        writer.flush()


def _selection_ratio_by_sex(home: Home, days: list[dt.datetime]) -> float:
    with lake_connection(home, model=MODEL) as con:
        frame = con.execute("SELECT sex, label FROM predictions WHERE ts >= ?", [days[0].replace(hour=0)]).df()
    rates = frame.groupby("sex")["label"].mean()
    assert frame.groupby("sex").size().min() >= 30
    return float(rates.min() / rates.max())


def _compute_as_an_older_raigov(home: Home, days: list[dt.datetime]) -> None:
    """What the runner did before it knew the future: compute and store those windows."""
    from raigov.monitors.runner import WindowKey, compute_window, load_window
    from raigov.monitors.store import write_window

    for day in days:
        start = day.replace(hour=0)
        key = WindowKey(MODEL, 1, start, start + dt.timedelta(days=1), 120, 0, as_of=day)
        metric_rows, _ = compute_window(load_window(home, key), families=("fairness",))
        write_window(home, model=MODEL, version=1, start=key.start, end=key.end, rows=metric_rows,
                     n_rows=key.rows, n_labelled=0, run_id="older-raigov")


def _recall(home: Home) -> float:
    from raigov.monitors.store import read_metric_rows

    rows = read_metric_rows(home, model=MODEL, metric_prefix="performance.recall")
    latest = rows[(rows["segment"] == "all") & (rows["window_start"] < TODAY)]
    assert len(latest) == 1
    return float(latest["value"].iloc[0])
