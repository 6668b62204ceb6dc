"""Scoreboard matching on made-up alerts: the first matching alert per incident and its
delay, the incident's window of effect, quarantine detections, false alarms."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from raigov.policies.alerts import Alert
from raigov.cli.demo.incident_kinds import ConceptShift, CovariateShift, DataFault
from raigov.cli.demo.incidents import Detection
from raigov.cli.demo.replay import ReplayLog
from raigov.cli.demo.scoreboard import (QUARANTINE_RULE, Injected, build_scoreboard,
                                    write_scoreboard)

START = dt.date(2026, 3, 1)
UTC = dt.timezone.utc
_BASE = Alert(alert_id="", model="income-classifier", version=1, policy="p", rule_id="r",
              rule_key="", metric="", segment="all", severity="warning", status="open",
              reason="", observed=None, threshold=None,
              opened_at=dt.datetime(2026, 4, 1, tzinfo=UTC), opened_by="raigov",
              first_window_start=None, first_window_end=None,
              last_seen_window_start=None, last_seen_window_end=None,
              last_seen_at=dt.datetime(2026, 4, 1, tzinfo=UTC), fail_count=1, passing_streak=0,
              last_pass_window_start=None, acknowledged_at=None, acknowledged_by=None,
              resolved_at=None, resolved_by=None, resolution=None,
              updated_at=dt.datetime(2026, 4, 1, tzinfo=UTC))


def alert(alert_id: str, *, day: int, metric: str, **fields) -> Alert:
    start = dt.datetime.combine(START + dt.timedelta(days=day - 1), dt.time(), UTC)
    return dataclasses.replace(_BASE, alert_id=alert_id, metric=metric,
                               first_window_start=start, **fields)


SHIFT = CovariateShift(model="income-classifier", day=3, until=5,
                       oversample=({"column": "age", "min": 50, "factor": 3},))
CONCEPT = ConceptShift(model="income-classifier", day=8, where=({"column": "age", "max": 30},),
                       share=0.5)
FAULT = DataFault(model="credit-risk", day=4, until=4, column="purpose", fault="new_category",
                  value="crypto", share=0.2)
EXPECT = {SHIFT.label: (Detection(metric="drift.share_drifted"), Detection(metric="drift")),
          CONCEPT.label: (Detection(metric="performance.recall"), Detection(metric="performance")),
          FAULT.label: (Detection(quarantine=True),)}


def board(alerts: list[Alert], *, rejected: dict | None = None) -> dict:
    injected = [Injected(i, EXPECT[i.label]) for i in (SHIFT, CONCEPT, FAULT)]
    log = ReplayLog(rejected=rejected or {})
    return build_scoreboard(scenario={"scenario": "t"}, start=START, injected=injected,
                            alerts=alerts, replay=log, totals={})


def test_each_incident_is_caught_by_its_first_matching_alert_with_the_delay_in_days() -> None:
    result = board([alert("a", day=4, metric="drift.dataset_drift", severity="critical"),
                    alert("b", day=4, metric="drift.share_drifted"),
                    alert("c", day=9, metric="performance.accuracy", severity="critical"),
                    alert("d", day=10, metric="performance.recall")],
                   rejected={"credit-risk": {4: [3, 40]}})
    shift, concept, fault = result["incidents"]
    assert (shift["detection"]["metric"], shift["delay_days"]) == ("drift.share_drifted", 1)
    assert shift["matching_alerts"] == 2 and shift["injected_on"] == "2026-03-03"
    assert (concept["detection"]["metric"], concept["delay_days"]) == ("performance.accuracy", 1)
    assert fault["detection"]["rule"] == QUARANTINE_RULE and fault["delay_days"] == 0
    assert fault["rejected_rows"] == 40
    assert result["detection_rate"] == 1.0 and result["false_alarms"] == []


def test_alerts_before_an_incident_or_after_it_ended_are_false_alarms() -> None:
    result = board([alert("early", day=2, metric="drift.share_drifted"),
                    alert("late", day=6, metric="drift.share_drifted", severity="critical"),
                    alert("other", day=9, metric="quality.missing_rate", segment="column=x"),
                    alert("credit", day=9, metric="performance.recall", model="credit-risk")])
    assert [i["detected"] for i in result["incidents"]] == [False, False, False]
    assert result["detection_rate"] == 0.0
    alarms = [(a["day"], a["metric"], a["severity"]) for a in result["false_alarms"]]
    assert alarms == [(2, "drift.share_drifted", "warning"), (6, "drift.share_drifted", "critical"),
                      (9, "performance.recall", "warning"), (9, "quality.missing_rate", "warning")]
    assert result["summary"]["false_alarms_by_severity"] == {"info": 0, "warning": 3, "critical": 1}


def test_a_detection_names_its_segment_and_a_segment_narrows_the_match() -> None:
    wanted = Detection(metric="quality.missing_rate", segment="column=native_country")
    assert wanted.matches(metric="quality.missing_rate", segment="column=native_country")
    assert not wanted.matches(metric="quality.missing_rate", segment="column=workclass")
    ratio = {"metric": "fairness.selection_rate_ratio", "segment": "sex"}
    assert Detection(metric="fairness").matches(**ratio)
    assert not Detection(metric="fair").matches(**ratio)
    assert not Detection(quarantine=True).matches(metric="drift", segment="all")


def test_the_scoreboard_file_is_stable_json(home) -> None:
    first = board([alert("b", day=4, metric="drift.share_drifted")])
    path = write_scoreboard(home, first)
    assert json.loads(open(path).read()) == json.loads(json.dumps(first))
    assert "alert_id" not in json.dumps(first)
