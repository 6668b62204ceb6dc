"""The governance facts of an audit report: the policies in force with their hashes,
every finding of the period, every alert that touched it with its lifecycle, and the
waivers that were used. Pure reads; every value plain JSON."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from raigov.policies.alerts import Alert, alert_history, list_alerts
from raigov.policies.pipeline import policies_in_force
from raigov.policies.schema import Policy, select_policies
from raigov.reports.queries import jsonable, read_findings
from raigov.home import Home

FINDING_STATUSES = ("pass", "fail", "insufficient_data", "waived", "error")


def policies_section(home: Home, *, model: str, tags: list[str], as_of: dt.date,
                     judged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policy files in force that apply to ``model``: name, version, the SHA-256 of
    the file's bytes, rules and waivers (active on ``as_of``, the period's last day).
    ``judged`` (the period's findings) tells which hashes the findings were judged by."""
    applying = select_policies(policies_in_force(home), model=model, tags=tags)
    seen = {(f["policy"], f["policy_sha256"]) for f in judged}
    return [_policy(home, p, as_of=as_of, judged=(p.policy, p.sha256) in seen)
            for p in sorted(applying, key=lambda p: p.policy)]


def _policy(home: Home, policy: Policy, *, as_of: dt.date, judged: bool) -> dict[str, Any]:
    try:
        shown_path = Path(policy.path).resolve().relative_to(home.root).as_posix()
    except ValueError:
        shown_path = policy.path
    return jsonable({
        "policy": policy.policy, "version": policy.version, "sha256": policy.sha256,
        "path": shown_path, "description": policy.description,
        "references": list(policy.references), "judged_findings_in_period": judged,
        "rules": [{"id": r.id, "metric": r.metric, "expectation": r.expectation(),
                   "op": getattr(r, "op", None), "threshold": getattr(r, "threshold", None),
                   "severity": r.severity, "sensitive": list(r.sensitive),
                   "segment": r.segment, "min_samples": r.min_samples,
                   "description": r.description} for r in policy.rules],
        "waivers": [w.as_dict(today=as_of) for w in policy.waivers]})


def policies_judged(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (policy, version, SHA-256) the period's findings were judged against."""
    counts = Counter((f["policy"], f["policy_version"], f["policy_sha256"]) for f in findings)
    return [{"policy": p, "version": v, "sha256": s, "findings": n}
            for (p, v, s), n in sorted(counts.items())]


def findings_section(home: Home, *, model: str, since: dt.datetime | None,
                     until: dt.datetime | None) -> dict[str, Any]:
    """Every finding of the period, and counts by status and by rule."""
    items = read_findings(home, model=model, since=since, until=until)
    totals = Counter(f["status"] for f in items)
    by_rule: dict[tuple[str, str], Counter[str]] = {}
    for f in items:
        by_rule.setdefault((f["policy"], f["rule_id"]), Counter())[f["status"]] += 1
    return {"counts": {s: totals.get(s, 0) for s in FINDING_STATUSES},
            "by_rule": [{"policy": p, "rule_id": r,
                         **{s: c.get(s, 0) for s in FINDING_STATUSES}}
                        for (p, r), c in sorted(by_rule.items())],
            "items": items}


def _touches(alert: Alert, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    """Whether the alert's failing windows (or, without windows, its life) overlap
    the period."""
    start = alert.first_window_start or alert.opened_at
    end = alert.last_seen_window_end or alert.resolved_at or alert.last_seen_at
    return (until is None or start < until) and (since is None or end > since)


def alerts_section(home: Home, *, model: str, since: dt.datetime | None,
                   until: dt.datetime | None) -> list[dict[str, Any]]:
    """Every alert whose failing windows overlap the period, oldest first, each with
    its transitions (who, when, comment, ledger event)."""
    alerts = [a for a in list_alerts(home, model=model) if _touches(a, since, until)]
    out = []
    for alert in sorted(alerts, key=lambda a: (a.opened_at, a.alert_id)):
        history = [{"transition": e.transition, "from": e.from_status, "to": e.to_status,
                    "actor": e.actor, "comment": e.comment, "at": e.changed_at,
                    "ledger_seq": e.ledger_seq} for e in alert_history(home, alert.alert_id)]
        out.append(jsonable({
            "alert_id": alert.alert_id, "version": alert.version, "policy": alert.policy,
            "rule_id": alert.rule_id, "metric": alert.metric, "segment": alert.segment,
            "severity": alert.severity, "status": alert.status, "reason": alert.reason,
            "observed": alert.observed, "threshold": alert.threshold,
            "opened_at": alert.opened_at, "first_window_start": alert.first_window_start,
            "last_seen_window_end": alert.last_seen_window_end,
            "fail_count": alert.fail_count, "resolution": alert.resolution,
            "history": history}))
    return out


def waivers_used(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each waiver that turned a failure into ``waived`` in the period, with how many
    findings it covered and the windows it covered."""
    used: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for f in findings:
        if f["status"] == "waived" and f["waiver"]:
            w = f["waiver"]
            key = (f["policy"], f["rule_id"], w.get("reason"), w.get("approved_by"),
                   w.get("expires"))
            used.setdefault(key, []).append(f)
    out = []
    for (policy, rule, reason, approved_by, expires), group in sorted(
            used.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        starts = sorted(str(f["window_start"]) for f in group if f["window_start"])
        out.append({"policy": policy, "rule_id": rule, "reason": reason,
                    "approved_by": approved_by, "expires": expires, "findings": len(group),
                    "first_window_start": starts[0] if starts else None,
                    "last_window_start": starts[-1] if starts else None})
    return out
