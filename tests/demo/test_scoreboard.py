"""Strict scoreboard matching on hand-built failing windows: an incident is caught only
by its own ``expect`` entries (exact metric, segment where given) within its days; a
failure of the right family but another metric, or outside the days, is a false alarm;
delays are counted in windows from the signal and the share of days alerted is a hand
count."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rich.console import Console

from raigov.cli.demo.incident_kinds import ConceptShift, CovariateShift, DataFault
from raigov.cli.demo.incidents import Detection
from raigov.cli.demo.replay import ReplayLog
from raigov.cli.demo.scoreboard import (FailedWindow, Injected, build_scoreboard,
                                        print_scoreboard, write_scoreboard)

START = dt.date(2026, 3, 1)
UTC = dt.timezone.utc

SHIFT = CovariateShift(model="income-classifier", day=3, until=5,
                       oversample=({"column": "age", "min": 50, "factor": 3},))
CONCEPT = ConceptShift(model="income-classifier", day=8, until=12,
                       where=({"column": "age", "max": 30},), share=0.5)
FAULT = DataFault(model="credit-risk", day=4, until=4, column="purpose", fault="new_category",
                  value="crypto", share=0.2)
EXPECT = {SHIFT.label: (Detection(metric="drift.share_drifted"),
                        Detection(metric="drift.dataset_drift")),
          CONCEPT.label: (Detection(metric="performance.recall"),),
          FAULT.label: (Detection(metric="quality.quarantine_rate"),)}


def failed(alert_id: str, *, day: int, metric: str, model: str = "income-classifier",
           segment: str = "all", severity: str = "warning", rule: str | None = None,
           policy: str = "p") -> FailedWindow:
    start = dt.datetime.combine(START + dt.timedelta(days=day - 1), dt.time(), UTC)
    return FailedWindow(model, policy, rule or metric.split(".")[-1], metric, segment,
                        severity, start, start + dt.timedelta(days=1), alert_id)


def alert(alert_id: str, *, days: list[int], metric: str, **fields) -> list[FailedWindow]:
    """The failing windows of one alert, one per day."""
    return [failed(alert_id, day=d, metric=metric, **fields) for d in days]


def board(failures: list[FailedWindow], *, rejected: dict | None = None,
          labelled: dict | None = None) -> dict:
    injected = [Injected(i, EXPECT[i.label]) for i in (SHIFT, CONCEPT, FAULT)]
    return build_scoreboard(scenario={"scenario": "t"}, start=START, injected=injected,
                            failures=failures, replay=ReplayLog(rejected=rejected or {}),
                            totals={}, labelled=labelled)


def test_each_incident_is_caught_by_its_own_rule_with_the_delay_in_windows() -> None:
    result = board(alert("a", days=[4, 5], metric="drift.dataset_drift", severity="critical")
                   + alert("b", days=[4], metric="drift.share_drifted")
                   + alert("c", days=[9, 10, 11], metric="performance.recall")
                   + alert("q", days=[4], metric="quality.quarantine_rate", model="credit-risk"),
                   rejected={"credit-risk": {4: [3, 40]}})
    shift, concept, fault = result["incidents"]
    # day 4, the expectation listed first wins the tie; days 3-5: signal on day 3
    assert shift["detection"]["metric"] == "drift.share_drifted"
    assert (shift["delay_windows"], shift["alerted_days"], shift["alerted_share"]) == \
        (1, [4, 5], round(2 / 3, 4))
    assert shift["matching_alerts"] == 2 and shift["injected_on"] == "2026-03-03"
    assert (concept["detection"]["day"], concept["delay_windows"]) == (9, 1)
    assert concept["alerted_share"] == 0.6                      # days 9-11 of 8-12
    assert (fault["detection"]["rule"], fault["delay_windows"]) == ("quarantine_rate", 0)
    assert fault["alerted_share"] == 1.0 and fault["rejected_rows"] == 40
    assert result["detection_rate"] == 1.0 and result["false_alarms"] == []
    assert result["summary"]["detected_within_one_window"] == 3


def test_a_failure_of_the_right_family_but_another_metric_is_a_false_alarm() -> None:
    result = board(alert("acc", days=[9], metric="performance.accuracy", severity="critical")
                   + alert("miss", days=[4], metric="quality.missing_rate", model="credit-risk",
                           segment="column=purpose"))
    assert [i["detected"] for i in result["incidents"]] == [False, False, False]
    assert [(a["metric"], a["day"]) for a in result["false_alarms"]] == [
        ("quality.missing_rate", 4), ("performance.accuracy", 9)]
    assert result["summary"]["false_alarms_by_severity"] == {"info": 0, "warning": 1,
                                                            "critical": 1}


def test_a_segment_narrows_the_match_and_a_metric_must_match_exactly() -> None:
    wanted = Detection(metric="quality.missing_rate", segment="column=native_country")
    assert wanted.matches(metric="quality.missing_rate", segment="column=native_country")
    assert not wanted.matches(metric="quality.missing_rate", segment="column=workclass")
    ratio = {"metric": "fairness.selection_rate_ratio", "segment": "sex"}
    assert Detection(metric="fairness.selection_rate_ratio").matches(**ratio)
    assert not Detection(metric="fairness").matches(**ratio)
    assert not Detection(metric="fairness.selection_rate").matches(**ratio)


def test_failing_windows_outside_an_incidents_days_are_false_alarms() -> None:
    # one alert failing on days 2 to 6: days 3-5 are the shift's, 2 and 6 are not
    result = board(alert("long", days=[2, 3, 4, 5, 6], metric="drift.share_drifted")
                   + alert("after", days=[5, 6], metric="quality.quarantine_rate",
                           model="credit-risk"))
    shift, _, fault = result["incidents"]
    assert shift["detection"]["day"] == 3 and shift["delay_windows"] == 0
    assert shift["alerted_share"] == 1.0 and not fault["detected"]
    alarms = [(a["rule"], a["day"], a["failing_windows"]) for a in result["false_alarms"]]
    assert alarms == [("share_drifted", 2, 2), ("quarantine_rate", 5, 2)]
    assert result["summary"]["false_alarm_windows"] == 4


def test_a_label_rule_counts_its_delay_from_the_first_window_with_labels() -> None:
    labels = {"income-classifier": {START + dt.timedelta(days=d - 1) for d in (1, 2, 10, 11)}}
    result = board(alert("c", days=[11], metric="performance.recall")
                   + alert("b", days=[4], metric="drift.share_drifted"), labelled=labels)
    shift, concept, _ = result["incidents"]
    assert (concept["signal_day"], concept["delay_windows"]) == (10, 1)
    assert (shift["signal_day"], shift["delay_windows"]) == (3, 1), \
        "a label-free rule counts from the first affected traffic"


def test_the_tables_fit_80_columns_and_the_file_is_stable_json(home) -> None:
    result = board(alert("a", days=[4], metric="drift.share_drifted",
                         policy="a-policy-with-a-long-name", rule="a-rule-with-a-long-name",
                         segment="sex&race")
                   + alert("x", days=[20], metric="performance.recall", segment="all"))
    console = Console(width=200, record=True)
    print_scoreboard(result, console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("not detected" in line for line in lines)
    path = write_scoreboard(home, result)
    assert json.loads(open(path).read()) == json.loads(json.dumps(result))
    assert "alert_id" not in json.dumps(result)


@pytest.mark.parametrize("until", [None, 9])
def test_a_biased_version_may_end_and_loaded_incidents_always_have_a_last_day(
        tmp_path, until) -> None:
    from raigov.cli.demo.scenario import load_scenario

    end = "" if until is None else f"\n    until: {until}"
    path = tmp_path / "s.yaml"
    path.write_text(f"""\
scenario: s
days: 12
traffic: {{models: {{credit-risk: {{rows_per_day: 10}}}}}}
incidents:
  - kind: biased_version
    model: credit-risk
    day: 4{end}
    penalise: {{column: sex, values: [female]}}
    flip_share: 0.2
""")
    [incident] = load_scenario(path).incidents
    assert incident.until == (until or 12)
