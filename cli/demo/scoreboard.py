"""The demo's scoreboard: which alert caught each injected incident and how many days
after its injection, which alerts match no incident (false alarms), and the detection
rate. Printed as rich tables and written to ``<home>/demo-scoreboard.json``.

An alert matches an incident when its model is the incident's, its metric and
segment match one of the incident's expected detections, and its first failing window
starts on or after the injection day (and, for an incident with ``until``, no later
than its last day: windows are event time and every label has arrived, so an incident
that has ended opens no new failure). An incident expecting ``quarantine`` is caught
on the first day on or after its injection when the server rejected (422) and
quarantined requests. An incident's detection is its earliest match (ties: the
expectation listed first, then the more severe alert). Delays count whole days from
the injection day to the window. Nothing here depends on wall-clock time, so a seed
and an end date give the same scoreboard.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raigov.home import Home

if TYPE_CHECKING:
    from rich.console import Console

    from raigov.policies.alerts import Alert
    from raigov.cli.demo.incidents import Detection, Incident
    from raigov.cli.demo.replay import ReplayLog

SCOREBOARD_FILE = "demo-scoreboard.json"
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
QUARANTINE_RULE = "quarantine (HTTP 422)"


@dataclass(frozen=True)
class Injected:
    """An incident that ran, with the detections expected of it."""

    incident: "Incident"
    expect: tuple["Detection", ...]


@dataclass(frozen=True)
class _Match:
    key: tuple[Any, ...]
    detection: dict[str, Any]


def build_scoreboard(*, scenario: dict[str, Any], start: dt.date, injected: list[Injected],
                     alerts: list["Alert"], replay: "ReplayLog",
                     totals: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The scoreboard as plain data (what the JSON file holds)."""
    matched: set[str] = set()
    incidents = []
    for item in injected:
        matches = _alert_matches(item, alerts, start) + _quarantine_matches(item, replay, start)
        matched.update(m.detection["alert_id"] for m in matches if "alert_id" in m.detection)
        incidents.append(_incident_entry(item, matches, start, replay))
    false_alarms = sorted((_alarm_entry(a, start) for a in alerts if a.alert_id not in matched),
                          key=lambda a: (a["first_window"], a["model"], a["policy"], a["rule"],
                                         a["segment"]))
    detected = sum(1 for i in incidents if i["detected"])
    by_severity = {s: sum(1 for a in false_alarms if a["severity"] == s) for s in SEVERITY_RANK}
    return {**scenario, "incidents": incidents, "false_alarms": false_alarms,
            "detection_rate": round(detected / len(incidents), 4) if incidents else None,
            "summary": {"incidents": len(incidents), "detected": detected,
                        "alerts": len(alerts), "false_alarms": len(false_alarms),
                        "false_alarms_by_severity": by_severity},
            "models": totals}


def _day(start: dt.date, moment: dt.datetime | dt.date) -> int:
    date = moment.date() if isinstance(moment, dt.datetime) else moment
    return (date - start).days + 1


def _alert_matches(item: Injected, alerts: list["Alert"], start: dt.date) -> list[_Match]:
    out = []
    for alert in alerts:
        if alert.model != item.incident.model or alert.first_window_start is None:
            continue
        day = _day(start, alert.first_window_start)
        hits = [i for i, d in enumerate(item.expect)
                if d.matches(metric=alert.metric, segment=alert.segment)]
        if not item.incident.active(day) or not hits:
            continue
        detection = {"by": "alert", "alert_id": alert.alert_id, "model": alert.model,
                     "policy": alert.policy, "rule": alert.rule_id, "metric": alert.metric,
                     "segment": alert.segment, "severity": alert.severity, "day": day,
                     "window": alert.first_window_start.date().isoformat()}
        key = (day, hits[0], -SEVERITY_RANK.get(alert.severity, 0), alert.policy,
               alert.rule_id, alert.segment)
        out.append(_Match(key, detection))
    return out


def _quarantine_matches(item: Injected, replay: "ReplayLog", start: dt.date) -> list[_Match]:
    hits = [i for i, d in enumerate(item.expect) if d.quarantine]
    day = replay.first_rejection(item.incident.model, since_day=item.incident.day)
    if not hits or day is None:
        return []
    window = (start + dt.timedelta(days=day - 1)).isoformat()
    detection = {"by": "quarantine", "model": item.incident.model, "policy": None,
                 "rule": QUARANTINE_RULE, "metric": None, "segment": None,
                 "severity": None, "day": day, "window": window}
    return [_Match((day, hits[0], 0, "", "", ""), detection)]


def _incident_entry(item: Injected, matches: list[_Match], start: dt.date,
                    replay: "ReplayLog") -> dict[str, Any]:
    incident = item.incident
    first = min(matches, key=lambda m: m.key).detection if matches else None
    if first is not None:
        first = {k: v for k, v in first.items() if k != "alert_id"}
    until = incident.until
    rejected = sum(rows for day, (_, rows) in replay.rejected.get(incident.model, {}).items()
                   if incident.active(day))
    return {"name": incident.label, "kind": incident.kind, "model": incident.model,
            "description": incident.description, "day": incident.day, "until": until,
            "injected_on": (start + dt.timedelta(days=incident.day - 1)).isoformat(),
            "expect": [d.label() for d in item.expect], "detected": first is not None,
            "detection": first, "delay_days": first["day"] - incident.day if first else None,
            "matching_alerts": sum(1 for m in matches if m.detection["by"] == "alert"),
            "rejected_rows": rejected}


def _alarm_entry(alert: "Alert", start: dt.date) -> dict[str, Any]:
    first = alert.first_window_start
    return {"model": alert.model, "policy": alert.policy, "rule": alert.rule_id,
            "metric": alert.metric, "segment": alert.segment, "severity": alert.severity,
            "first_window": first.date().isoformat() if first else None,
            "day": _day(start, first) if first else None, "failing_windows": alert.fail_count,
            "status": alert.status}


def write_scoreboard(home: Home, board: dict[str, Any]) -> str:
    path = home.root / SCOREBOARD_FILE
    path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
    return str(path)


def print_scoreboard(board: dict[str, Any], console: "Console") -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Incidents ({board['scenario']})", title_justify="left")
    for column in ("incident", "kind", "model", "injected", "caught by", "window", "delay"):
        table.add_column(column)
    for i in board["incidents"]:
        found = i["detection"]
        caught = "[red]not detected[/]" if found is None else (
            found["rule"] if found["by"] == "quarantine" else
            escape(f"{found['policy']}/{found['rule']} [{found['segment']}] ({found['severity']})"))
        table.add_row(i["name"], i["kind"], i["model"], f"day {i['day']} ({i['injected_on']})",
                      caught, found["window"] if found else "",
                      f"{i['delay_days']} d" if found else "")
    console.print(table)
    alarms = Table(title="False alarms (alerts that match no incident)", title_justify="left")
    for column in ("model", "policy/rule", "segment", "severity", "first window", "windows"):
        alarms.add_column(column)
    for a in board["false_alarms"]:
        since = f"day {a['day']} ({a['first_window']})"
        alarms.add_row(a["model"], f"{a['policy']}/{a['rule']}", a["segment"], a["severity"],
                       since, str(a["failing_windows"]))
    console.print(alarms)
    s = board["summary"]
    rate = board["detection_rate"]
    console.print(f"Detection rate: {s['detected']}/{s['incidents']}"
                  + (f" ({rate:.0%})" if rate is not None else "")
                  + f"; false alarms: {s['false_alarms']} "
                  + ", ".join(f"{n} {sev}" for sev, n in s["false_alarms_by_severity"].items()))
