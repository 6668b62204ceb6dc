"""``quality.quarantine_rate`` end to end: requests a real ``raigov serve`` refuses are
quarantined with their event time, ``raigov monitor run`` counts them in the window of
that time, and the data-quality pack's ``quarantine-rate`` rule fails on it. The rate
is checked against a hand count of the rows sent."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from raigov.canonical import utcnow
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.monitors.quality import NO_CAPTURE, QualityMonitor
from raigov.monitors.store import read_metric_rows
from raigov.policies.alerts import list_alerts
from tests.monitors.drift_fixtures import adult_predictions, adult_spec, make_window
from tests.serving.conftest import MODEL

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "packs" / "data-quality.yaml"
TODAY = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
DAY_BEFORE = TODAY - dt.timedelta(hours=36)    # the window before yesterday's
YESTERDAY = TODAY - dt.timedelta(hours=12)


def _raigov(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_rejected_rows_count_in_the_window_of_their_event_time(model_home, request_rows) -> None:
    model_home.policies.mkdir(parents=True, exist_ok=True)
    shutil.copy(PACK, model_home.policies / PACK.name)
    good = [request_rows[i:i + 40] for i in range(0, 200, 40)]          # 5 x 40 rows
    bad = [[{**row, "purpose": "crypto"} for row in request_rows[200 + i:200 + i + n]]
           for i, n in ((0, 7), (10, 5))]                               # 12 rows refused
    with ServerProcess.with_key(model_home, free_port()) as server, server.client() as client:
        for day, batches in ((DAY_BEFORE, good[:2]), (YESTERDAY, good[2:])):
            for rows in batches:
                answer = client.post(f"/v1/models/{MODEL}/predict",
                                     json={"rows": rows, "timestamp": day.isoformat()})
                assert answer.status_code == 200, answer.text
        for rows in bad:
            answer = client.post(f"/v1/models/{MODEL}/predict",
                                 json={"rows": rows, "timestamp": YESTERDAY.isoformat()})
            assert answer.status_code == 422 and answer.json()["quarantined"] == len(rows)
    run = _raigov(model_home, "monitor", "run")
    assert run.returncode == 0, run.stderr

    rows = read_metric_rows(model_home, model=MODEL, metric_prefix="quality.quarantine_rate")
    by_day = {start.date(): (value, n) for start, value, n
              in zip(rows["window_start"], rows["value"], rows["n"])}
    assert by_day[DAY_BEFORE.date()] == (0.0, 80)
    assert by_day[YESTERDAY.date()][0] == pytest.approx(12 / (120 + 12))
    assert by_day[YESTERDAY.date()][1] == 132
    [alert] = [a for a in list_alerts(model_home, model=MODEL) if a.rule_id == "quarantine-rate"]
    assert alert.first_window_start.date() == YESTERDAY.date()


def test_rows_without_served_traffic_behind_them_have_no_quarantine_rate() -> None:
    frame = adult_predictions().head(50)
    [row] = [r for r in QualityMonitor().run(make_window(adult_spec(), frame, frame))
             if r.metric == "quality.quarantine_rate"]
    assert (row.value, row.status, row.details["reason"]) == (None, "insufficient_data",
                                                              NO_CAPTURE)
