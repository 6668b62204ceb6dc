"""Governance records: alerts, the policies in force with their rules, waivers and
latest findings, the model card's fields and the ledger's state."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from raigov.models.spec import CardMeta
from raigov.policies.alerts import Alert, AlertEvent
from raigov.policies.schema import Policy, policy_applies
from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.ledger.chain import LedgerEvent

ALERT_COLUMNS = [f.name for f in dataclasses.fields(Alert)]
FINDING_COLUMNS = ["policy", "policy_version", "rule_id", "metric", "segment", "status",
                   "severity", "observed", "judged", "op", "threshold", "ci_low", "ci_high",
                   "n", "reason", "window_start", "window_end", "version", "alert_id",
                   "evaluated_at"]
MISSING = "missing"
STATUS_ORDER = {"open": 0, "acknowledged": 1, "resolved": 2}
SEVERITY_ORDER = {"info": 1, "warning": 2, "critical": 3}
FINDING_ORDER = {"fail": 0, "error": 1, "insufficient_data": 2, "waived": 3, "pass": 4}
EVERY = "*"
CARD_LABELS = {
    "owner": "Owner", "description": "Description", "intended_use": "Intended use",
    "out_of_scope_uses": "Out-of-scope uses", "primary_users": "Primary users",
    "factors": "Factors", "training_data": "Training data",
    "evaluation_data": "Evaluation data", "ethical_considerations": "Ethical considerations",
    "limitations": "Limitations", "recommendations": "Recommendations", "license": "License",
    "references": "References",
}


@dataclass(frozen=True)
class Threshold:
    """A threshold rule of a policy in force on one metric (and attribute)."""

    policy: str
    rule_id: str
    metric: str
    op: str
    threshold: float
    severity: str
    judge: str

    @property
    def label(self) -> str:
        return f"{self.policy}/{self.rule_id} {self.op} {self.threshold:g} ({self.judge})"


def _covers(rule: Any, attribute: str | None) -> bool:
    if attribute is None:
        return not rule.sensitive and rule.segment in (None, "all", EVERY)
    names = rule.sensitive
    return not names or EVERY in names or attribute in names or "&".join(names) == attribute


def thresholds(policies: Sequence[Policy], *, model: str, tags: Sequence[str], metric: str,
               attribute: str | None = None) -> list[Threshold]:
    """The threshold rules of the policies in force for ``model`` that judge
    ``metric`` (of ``attribute``, for per-attribute metrics)."""
    out = []
    for policy in policies_for(policies, model=model, tags=tags):
        for rule in policy.rules:
            value = getattr(rule, "threshold", None)
            if rule.metric == metric and value is not None and _covers(rule, attribute):
                out.append(Threshold(policy.policy, rule.id, rule.metric, getattr(rule, "op", ""),
                                     float(value), rule.severity,
                                     getattr(rule, "judge_on", "point")))
    return out


def threshold_lines(found: Sequence[Threshold]) -> list[tuple[float, str, str]]:
    """One line per threshold value: (value, the rules' labels, worst severity)."""
    by_value: dict[float, list[Threshold]] = {}
    for t in found:
        by_value.setdefault(t.threshold, []).append(t)
    return [(value, "; ".join(t.label for t in group),
             max((t.severity for t in group), key=lambda s: SEVERITY_ORDER.get(s, 0)))
            for value, group in sorted(by_value.items())]


def alerts_frame(alerts: Sequence[Alert]) -> pd.DataFrame:
    """Alerts in inbox order: open first, then most severe, then newest."""
    frame = pd.DataFrame([dataclasses.asdict(a) for a in alerts], columns=ALERT_COLUMNS)
    if frame.empty:
        return frame
    keys = pd.DataFrame({"status": frame["status"].map(STATUS_ORDER),
                         "severity": -frame["severity"].map(SEVERITY_ORDER),
                         "opened": -frame["opened_at"].map(lambda t: t.timestamp())})
    order = keys.sort_values(["status", "severity", "opened"]).index
    return frame.loc[order].reset_index(drop=True)


def history_frame(events: Sequence[AlertEvent]) -> pd.DataFrame:
    return pd.DataFrame([dataclasses.asdict(e) for e in events],
                        columns=["changed_at", "transition", "from_status", "to_status",
                                 "actor", "comment", "ledger_seq", "alert_id"])


def latest_findings(home: Home, model: str) -> pd.DataFrame:
    """The newest finding per policy, rule and segment of ``model``."""
    columns = ", ".join(FINDING_COLUMNS)
    sql = (f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER (PARTITION BY "
           "policy, rule_id, segment ORDER BY window_start DESC NULLS LAST, "
           "evaluated_at DESC) AS newest FROM findings WHERE model = ?) AS f "
           "WHERE newest = 1 ORDER BY policy, rule_id, segment")
    with catalog(home, read_only=True) as con:
        return con.execute(sql, [model]).df()


def policy_matrix(policies: Sequence[Policy],
                  models: Sequence[tuple[str, Sequence[str]]]) -> pd.DataFrame:
    """Which policy applies to which model (rows: policies; columns: models)."""
    data = {name: ["applies" if policy_applies(p, model=name, tags=tuple(tags)) else ""
                   for p in policies] for name, tags in models}
    return pd.DataFrame(data, index=[p.policy for p in policies]).rename_axis("policy")


def policies_for(policies: Sequence[Policy], *, model: str, tags: Sequence[str]) -> list[Policy]:
    return [p for p in policies if policy_applies(p, model=model, tags=tuple(tags))]


def applies_to_text(policy: Policy) -> str:
    parts = []
    if policy.applies_to.models:
        parts.append("models: " + ", ".join(policy.applies_to.models))
    if policy.applies_to.tags:
        parts.append("tags: " + ", ".join(policy.applies_to.tags))
    return "; ".join(parts)


def rules_frame(policy: Policy) -> pd.DataFrame:
    rows = []
    for rule in policy.rules:
        target = rule.segment or (", ".join(rule.sensitive) if rule.sensitive else "all")
        rows.append({"rule": rule.id, "type": rule.type, "metric": rule.metric,
                     "applies to": target, "expects": rule.expectation(),
                     "judged on": getattr(rule, "judge_on", "point"),
                     "severity": rule.severity, "min samples": rule.min_samples,
                     "description": rule.description})
    return pd.DataFrame(rows)


WAIVER_FILE = ("A waiver file: no rules of its own. Each waiver below names the policy "
               "and rule it waives for the models this file applies to.")


def waivers_frame(policy: Policy, *, today: dt.date) -> pd.DataFrame:
    rows = [{"rule": f"{w.policy}/{w.rule}" if w.policy else w.rule, "reason": w.reason,
             "approved by": w.approved_by,
             "expires": w.expires.isoformat(),
             "state": "active" if w.is_active(today=today) else "expired",
             "days left": (w.expires - today).days} for w in policy.waivers]
    return pd.DataFrame(rows, columns=["rule", "reason", "approved by", "expires", "state",
                                       "days left"])


def findings_for(findings: pd.DataFrame, policy: str) -> pd.DataFrame:
    """A policy's latest findings, failing ones first."""
    mine = findings[findings["policy"] == policy] if not findings.empty else findings
    mine = mine.assign(_order=mine["status"].map(FINDING_ORDER).fillna(9))
    mine = mine.sort_values(["_order", "rule_id", "segment"])
    return mine[["rule_id", "segment", "status", "severity", "observed", "op", "threshold",
                 "window_start", "reason"]].reset_index(drop=True)


def failing(findings: pd.DataFrame, policy: str) -> bool:
    return bool(((findings["policy"] == policy) & (findings["status"] == "fail")).any()) \
        if not findings.empty else False


def card_fields(card: CardMeta) -> list[tuple[str, str | None]]:
    """(label, text) per card field; ``None`` where the field is missing."""
    out: list[tuple[str, str | None]] = []
    for name, label in CARD_LABELS.items():
        value: Any = getattr(card, name)
        if isinstance(value, tuple):
            value = "; ".join(value) if value else None
        out.append((label, value if value else None))
    return out


def missing_card_fields(card: CardMeta) -> list[str]:
    return [label for label, value in card_fields(card) if value is None]


def events_frame(events: Sequence[LedgerEvent], *, limit: int) -> pd.DataFrame:
    """The newest ``limit`` ledger events, newest first."""
    rows = [{"seq": e.seq, "at": e.at, "kind": e.kind, "actor": e.actor, "subject": e.subject,
             "hash": e.hash[:16]} for e in reversed(events[-limit:])]
    return pd.DataFrame(rows, columns=["seq", "at", "kind", "actor", "subject", "hash"])
