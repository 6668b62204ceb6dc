"""The shipped default scenario through the documented command, shortened to its first
12 days (which hold its subtler incidents): ``raigov demo`` in a real process, then
every incident must be caught by one of its own ``expect`` rules within one window of
its signal, checked against the scenario file (read as plain YAML) and the findings
recorded in the catalog (read with DuckDB), not against the scoreboard's own say."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from raigov.cli.demo.scenario import DEFAULT_SCENARIO
from raigov.cli.demo.scoreboard import SCOREBOARD_FILE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]   # a 12-day demo: minutes

ROOT = Path(__file__).resolve().parents[2]
DAYS = 12
END = dt.date(2026, 3, 13)     # 2 March, the first day, is a Monday as in the full run
START = END - dt.timedelta(days=DAYS - 1)
# The text model's incidents are not judged here (its CPU embeds 20-50 texts a second;
# see tests/demo/test_incidents_text.py and the README's text figures).
MODELS = ("income-classifier", "credit-risk", "hours-estimator", "job-sector")
# Open, and said so in the README: a 10% concept shift in one group moves recall from
# about 0.61 to 0.50, at the recall floor, so it is caught, by its own rule, only on
# its third day. Caught later than that, or not at all, still fails.
KNOWN_LATE = {"white-incomes-rise-10pct": 2}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("default") / "home"
    done = subprocess.run([sys.executable, "-m", "raigov.cli", "demo", "--home", str(home),
                           "--scenario", "default", "--days", str(DAYS), "--end-date",
                           END.isoformat(), "--models", ",".join(MODELS), "--no-dashboard"],
                          capture_output=True, text=True, cwd=ROOT, timeout=3000)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Incidents (default)" in done.stderr
    return home


def _failing(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute("SELECT model, metric, segment, window_start, policy, rule_id "
                           "FROM findings WHERE status = 'fail'").fetchall()
    finally:
        con.close()


def test_every_incident_of_the_first_days_is_caught_by_its_own_rule_within_a_window(
        demo_home: Path) -> None:
    planned = yaml.safe_load(DEFAULT_SCENARIO.read_text())["incidents"]
    expected = {i["name"]: i for i in planned if i["day"] <= DAYS and i["model"] in MODELS}
    assert len(expected) >= 7       # the four subtler incidents and three of the others
    board = json.loads((demo_home / SCOREBOARD_FILE).read_text())
    assert {i["name"] for i in board["incidents"]} == set(expected)
    failing = _failing(demo_home)
    problems = []
    for incident in board["incidents"]:
        plan = expected[incident["name"]]
        found = incident["detection"]
        print(incident["name"], found and (found["policy"], found["rule"], found["segment"],
                                           found["day"]), incident["alerted_share"])
        if found is None:
            problems.append((incident["name"], "not detected"))
            continue
        entries = [(e["metric"], e.get("segment")) for e in plan["expect"]]
        if not any(found["metric"] == m and (s is None or found["segment"] == s)
                   for m, s in entries):
            problems.append((incident["name"], "not by its own rule", found))
        first, last = plan["day"], min(plan.get("until", DAYS), DAYS)
        window = START + dt.timedelta(days=found["day"] - 1)
        allowed = KNOWN_LATE.get(incident["name"], 1)
        if not (first <= found["day"] <= last and found["day"] - first <= allowed):
            problems.append((incident["name"], f"caught on day {found['day']}", found))
        if not any(m == plan["model"] and metric == found["metric"]
                   and segment == found["segment"]
                   and start.astimezone(dt.timezone.utc).date() == window
                   and (policy, rule) == (found["policy"], found["rule"])
                   for m, metric, segment, start, policy, rule in failing):
            problems.append((incident["name"], "no such failing finding", found))
    print("false alarms", board["summary"]["false_alarms"],
          board["summary"]["false_alarms_by_severity"])
    assert problems == []
    assert board["summary"]["detected_within_one_window"] >= len(expected) - len(KNOWN_LATE)
