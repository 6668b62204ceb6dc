"""The demo's scoreboard: which rule caught each injected incident, how many windows
after its signal, on what share of its days, and which failures match no incident
(false alarms). Printed as rich tables and written to ``<home>/demo-scoreboard.json``.

Matching is strict. A failing window (a finding with status ``fail``) belongs to an
incident when its model is the incident's, its metric is exactly the metric of one of
the incident's ``expect`` entries (and its segment that entry's, where one is given),
and the window starts on one of the incident's days, ``day`` to ``until`` (every
incident has an ``until``: without one, the scenario's last day). Windows are event
time and every label has arrived when they are judged, so an incident that has ended
causes no failure in a later window. Every failing window that belongs to no incident
is a false alarm, listed by its alert, even when it falls during an incident whose
``expect`` does not name its metric.

An incident's detection is its earliest window (ties: the expectation listed first,
then the more severe alert). Its delay counts windows from its signal: for a rule
whose metric needs labels, the first of its days whose window holds labels; for any
other, the first affected traffic (its first day). ``alerted_share`` is the share of
its days on which a window of its own rules failed. Nothing here depends on
wall-clock time, so a seed and an end date give the same scoreboard.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raigov.home import Home

if TYPE_CHECKING:
    from rich.console import Console

    from raigov.cli.demo.incidents import Incident
    from raigov.cli.demo.replay import ReplayLog

SCOREBOARD_FILE = "demo-scoreboard.json"
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
TABLE_WIDTH = 80
DELAY_NOTE = ("delay: windows from the signal (labels arrived, or the first affected "
              "traffic); alerted: days with a failing window of its own rules")


@dataclass(frozen=True)
class Injected:
    """An incident that ran, with the detections expected of it."""

    incident: "Incident"
    expect: tuple[Any, ...]          # of raigov.cli.demo.incidents.Detection


@dataclass(frozen=True)
class FailedWindow:
    """One window in which one rule failed (a recorded finding with status ``fail``)."""

    model: str
    policy: str
    rule: str
    metric: str
    segment: str
    severity: str
    start: dt.datetime
    end: dt.datetime
    alert_id: str | None = None


def build_scoreboard(*, scenario: dict[str, Any], start: dt.date, injected: list[Injected],
                     failures: list[FailedWindow], replay: "ReplayLog",
                     totals: dict[str, dict[str, int]],
                     labelled: dict[str, set[dt.date]] | None = None,
                     statuses: dict[str, str] | None = None) -> dict[str, Any]:
    """The scoreboard as plain data (what the JSON file holds). ``labelled``: per model,
    the days whose window holds labels (None: every window); ``statuses``: each
    alert's status, by id."""
    explained: set[int] = set()
    incidents = []
    for item in injected:
        own = [(i, f) for i, f in enumerate(failures) if _belongs(item, f, start)]
        explained.update(i for i, _ in own)
        incidents.append(_incident_entry(item, [f for _, f in own], start, replay,
                                         None if labelled is None
                                         else labelled.get(item.incident.model, set())))
    unexplained = [f for i, f in enumerate(failures) if i not in explained]
    false_alarms = _false_alarms(unexplained, start, statuses or {})
    detected = sum(1 for i in incidents if i["detected"])
    in_time = sum(1 for i in incidents if i["detected"] and i["delay_windows"] <= 1)
    return {**scenario, "incidents": incidents, "false_alarms": false_alarms,
            "detection_rate": round(detected / len(incidents), 4) if incidents else None,
            "summary": {"incidents": len(incidents), "detected": detected,
                        "detected_within_one_window": in_time,
                        "alerts": len({_alert_key(f) for f in failures}),
                        "false_alarms": len(false_alarms),
                        "false_alarm_windows": len(unexplained),
                        "false_alarms_by_severity": {
                            s: sum(1 for a in false_alarms if a["severity"] == s)
                            for s in SEVERITY_RANK}},
            "models": totals}


def _date(start: dt.date, day: int) -> dt.date:
    return start + dt.timedelta(days=day - 1)


def _day(start: dt.date, moment: dt.datetime) -> int:
    return (moment.astimezone(dt.timezone.utc).date() - start).days + 1


def _last_day(incident: "Incident", start: dt.date) -> int:
    """``until`` (the loaded scenario sets it on every incident)."""
    return incident.until if incident.until is not None else incident.day


def _belongs(item: Injected, failed: FailedWindow, start: dt.date) -> bool:
    incident = item.incident
    day = _day(start, failed.start)
    return (failed.model == incident.model
            and incident.day <= day <= _last_day(incident, start)
            and any(d.matches(metric=failed.metric, segment=failed.segment)
                    for d in item.expect))


def _alert_key(failed: FailedWindow) -> tuple[str, ...]:
    return (failed.alert_id,) if failed.alert_id else (
        failed.model, failed.policy, failed.rule, failed.segment)


def _signal_day(item: Injected, metric: str, start: dt.date,
                labelled: set[dt.date] | None) -> int | None:
    """The first day of the incident on which a rule on ``metric`` could see it."""
    from raigov.monitors.catalog import metric_info

    incident = item.incident
    info = metric_info(metric)
    if labelled is None or info is None or not info.needs_labels:
        return incident.day
    days = [d for d in range(incident.day, _last_day(incident, start) + 1)
            if _date(start, d) in labelled]
    return min(days) if days else None


def _incident_entry(item: Injected, own: list[FailedWindow], start: dt.date,
                    replay: "ReplayLog", labelled: set[dt.date] | None) -> dict[str, Any]:
    incident = item.incident
    until = _last_day(incident, start)
    def rank(f: FailedWindow) -> tuple[Any, ...]:
        hit = min(i for i, d in enumerate(item.expect)
                  if d.matches(metric=f.metric, segment=f.segment))
        return (f.start, hit, -SEVERITY_RANK.get(f.severity, 0), f.policy, f.rule, f.segment)

    first = min(own, key=rank) if own else None
    detection, delay, signal = None, None, None
    if first is not None:
        signal = _signal_day(item, first.metric, start, labelled)
        step = first.end - first.start
        signal_at = dt.datetime.combine(_date(start, signal or incident.day), dt.time(),
                                        dt.timezone.utc)
        delay = max(0, int((first.start - signal_at) / step)) if step else 0
        detection = {"policy": first.policy, "rule": first.rule, "metric": first.metric,
                     "segment": first.segment, "severity": first.severity,
                     "day": _day(start, first.start),
                     "window": first.start.astimezone(dt.timezone.utc).date().isoformat()}
    alerted = sorted({_day(start, f.start) for f in own})
    days = until - incident.day + 1
    rejected = sum(rows for day, (_, rows) in replay.rejected.get(incident.model, {}).items()
                   if incident.day <= day <= until)
    return {"name": incident.label, "kind": incident.kind, "model": incident.model,
            "description": incident.description, "day": incident.day, "until": until,
            "injected_on": _date(start, incident.day).isoformat(),
            "ends_on": _date(start, until).isoformat(),
            "expect": [d.label() for d in item.expect], "detected": first is not None, "detection": detection,
            "signal_day": signal, "delay_windows": delay,
            "alerted_days": alerted, "alerted_share": round(len(alerted) / days, 4),
            "matching_alerts": len({_alert_key(f) for f in own}), "rejected_rows": rejected}


def _false_alarms(unexplained: list[FailedWindow], start: dt.date,
                  statuses: dict[str, str]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], list[FailedWindow]] = {}
    for failed in unexplained:
        groups.setdefault(_alert_key(failed), []).append(failed)
    out = []
    for windows in groups.values():
        first = min(windows, key=lambda f: f.start)
        worst = max(windows, key=lambda f: SEVERITY_RANK.get(f.severity, 0))
        out.append({"model": first.model, "policy": first.policy, "rule": first.rule,
                    "metric": first.metric, "segment": first.segment,
                    "severity": worst.severity,
                    "first_window": first.start.astimezone(dt.timezone.utc).date().isoformat(),
                    "day": _day(start, first.start), "failing_windows": len(windows),
                    "status": statuses.get(first.alert_id or "")})
    return sorted(out, key=lambda a: (a["first_window"], a["model"], a["policy"], a["rule"],
                                      a["segment"]))


def failed_windows(home: Home, models: list[str]) -> list[FailedWindow]:
    """Every failing finding of ``models`` recorded in the home's catalog."""
    from raigov.reports.queries import read_findings

    def moment(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

    return [FailedWindow(model, f["policy"], f["rule_id"], f["metric"], f["segment"],
                         f["severity"], moment(f["window_start"]), moment(f["window_end"]),
                         f["alert_id"])
            for model in models
            for f in read_findings(home, model=model, since=None, until=None)
            if f["status"] == "fail" and f["window_start"] is not None]


def write_scoreboard(home: Home, board: dict[str, Any]) -> str:
    path = home.root / SCOREBOARD_FILE
    path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
    return str(path)


def _rule_text(entry: dict[str, Any]) -> str:
    segment = entry["segment"]
    return f"{entry['policy']}/{entry['rule']}" + (f" [{segment}]" if segment != "all" else "")


def print_scoreboard(board: dict[str, Any], console: "Console") -> None:
    """The incidents and the false alarms, each table at most 80 columns wide."""
    from rich.markup import escape
    from rich.table import Table

    width = min(TABLE_WIDTH, console.width)
    table = Table(title=f"Incidents ({board['scenario']})", title_justify="left",
                  width=width, caption=DELAY_NOTE, caption_justify="left")
    for column in ("incident", "model", "days", "caught by", "delay", "alerted"):
        table.add_column(column, no_wrap=column in ("days", "delay", "alerted"))
    for i in board["incidents"]:
        found = i["detection"]
        days = str(i["day"]) if i["day"] == i["until"] else f"{i['day']}-{i['until']}"
        caught = "[red]not detected[/]" if found is None else escape(_rule_text(found))
        delay = "" if found is None else str(i["delay_windows"])
        alerted = f"{len(i['alerted_days'])}/{i['until'] - i['day'] + 1}"
        table.add_row(i["name"], i["model"], days, caught, delay, alerted)
    console.print(table)
    alarms = Table(title="False alarms (failing windows that belong to no incident)",
                   title_justify="left", width=width)
    for column in ("model", "policy/rule [segment]", "severity", "first", "windows"):
        alarms.add_column(column, no_wrap=column in ("severity", "first", "windows"))
    for a in board["false_alarms"]:
        alarms.add_row(a["model"], escape(_rule_text(a)), a["severity"],
                       f"day {a['day']}", str(a["failing_windows"]))
    console.print(alarms)
    s = board["summary"]
    rate = board["detection_rate"]
    console.print(f"Detected: {s['detected']}/{s['incidents']}"
                  + (f" ({rate:.0%})" if rate is not None else "")
                  + f", {s['detected_within_one_window']} within one window of the signal; "
                  + f"false alarms: {s['false_alarms']} ("
                  + ", ".join(f"{n} {sev}" for sev, n in s["false_alarms_by_severity"].items())
                  + ")", width=width)
