"""Alerts: failing findings become alerts that people acknowledge and resolve.

A ``fail`` opens an alert, at most one open or acknowledged alert per (model, policy,
rule, segment): a later failure updates it (last window seen, failing windows). A
``pass`` in a window newer than the last failure adds to the alert's passing streak,
and ``auto_resolve_after`` consecutive passing windows resolve it (resolution ``auto``,
actor ``raigov``). ``insufficient_data`` and ``error`` break the streak: no evidence is
not evidence of recovery. ``waived`` neither opens an alert nor touches one.

States: open -> acknowledged -> resolved, and open -> resolved. Every transition, and
every evaluation, is a ledger event written in the same catalog transaction as the
change; the ledger head is checkpointed after commit; webhooks go out after that.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import duckdb

from policies.findings import Finding
from policies.notify import Delivery, WebhookConfig, load_webhook_config, notify
from raigov.canonical import canonical_json, utcnow
from raigov.catalog import catalog
from raigov.errors import ConfigError, InputError, NotFoundError, did_you_mean
from raigov.home import Home
from raigov.ids import uuid7
from raigov.ledger import append_event

log = logging.getLogger(__name__)

AlertStatus = Literal["open", "acknowledged", "resolved"]
ALERT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved")
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
SYSTEM_ACTOR = "raigov"

ALERT_NOT_FOUND = "No alert '{alert_id}'."
ALERT_AMBIGUOUS = ("Alert id '{alert_id}' is ambiguous: {count} alerts start with it; "
                   "give more of it.")
ILLEGAL_TRANSITION = ("Cannot {verb} alert {alert_id}: it is {status}. "
                      "Only an alert that is {allowed} can be {done}.")
COMMENT_REQUIRED = "Resolving alert {alert_id} needs a comment: say what was done or decided."
ACTOR_REQUIRED = "An actor is required to {action}: name the person or service doing it."
UNKNOWN_CHOICE = "Unknown alert {field} '{value}'. Allowed: {allowed}.{hint}"
BAD_AUTO_RESOLVE = "auto_resolve_after must be a whole number of windows >= 1, not {value!r}."
AUTO_RESOLVED_COMMENT = "passed {streak} consecutive window(s)"
WEBHOOK_CONFIG_IGNORED = "Alert webhook not notified: {error}"


class AlertTransitionError(InputError):
    """A transition the alert state machine does not allow (or lacks what it needs)."""


@dataclass(frozen=True)
class Alert:
    alert_id: str
    model: str
    version: int | None
    policy: str
    rule_id: str
    rule_key: str
    metric: str
    segment: str
    severity: str
    status: AlertStatus
    reason: str
    observed: float | None
    threshold: float | None
    opened_at: dt.datetime
    opened_by: str
    first_window_start: dt.datetime | None
    first_window_end: dt.datetime | None
    last_seen_window_start: dt.datetime | None
    last_seen_window_end: dt.datetime | None
    last_seen_at: dt.datetime
    fail_count: int
    passing_streak: int
    last_pass_window_start: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution: Literal["manual", "auto"] | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class AlertEvent:
    alert_id: str
    transition: str
    from_status: str | None
    to_status: str
    actor: str
    comment: str | None
    changed_at: dt.datetime
    ledger_seq: int


@dataclass(frozen=True)
class AlertSummary:
    run_id: str
    findings: int
    opened: tuple[str, ...]
    updated: tuple[str, ...]
    auto_resolved: tuple[str, ...]
    ledger_seqs: tuple[int, ...]
    delivery: Delivery | None = None


@dataclass(frozen=True)
class _Move:
    verb: str
    done: str
    allowed: tuple[str, ...]
    to_status: str
    transition: str
    stamp: str                     # column prefix: acknowledged_* or resolved_*
    resolution: str | None = None


_ACKNOWLEDGE = _Move("acknowledge", "acknowledged", ("open",), "acknowledged",
                     "acknowledged", "acknowledged")
_RESOLVE = _Move("resolve", "resolved", ("open", "acknowledged"), "resolved", "resolved",
                 "resolved", "manual")
_AUTO_RESOLVE = _Move("resolve", "resolved", ("open", "acknowledged"), "resolved",
                      "auto_resolved", "resolved", "auto")
_ALERT_COLUMNS = ", ".join(f.name for f in fields(Alert))
_EVENT_COLUMNS = ", ".join(f.name for f in fields(AlertEvent))


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _row_to(cls: type, row: tuple) -> Any:
    values = [_utc(v) if isinstance(v, dt.datetime) else v for v in row]
    return cls(*values)


def _require_actor(actor: str, action: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise AlertTransitionError(ACTOR_REQUIRED.format(action=action))


def _check_choice(field: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ConfigError(UNKNOWN_CHOICE.format(field=field, value=value,
                                                allowed=", ".join(allowed),
                                                hint=did_you_mean(value, allowed)))


def _get_alert(con: duckdb.DuckDBPyConnection, alert_id: str) -> Alert:
    """The alert with this id, or the one alert whose id starts with it."""
    if not alert_id:
        raise NotFoundError(ALERT_NOT_FOUND.format(alert_id=alert_id))
    rows = con.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE starts_with(alert_id, ?) "
                       "ORDER BY alert_id LIMIT 2", [alert_id]).fetchall()
    exact = [r for r in rows if r[0] == alert_id]
    if exact or len(rows) == 1:
        return _row_to(Alert, (exact or rows)[0])
    if not rows:
        raise NotFoundError(ALERT_NOT_FOUND.format(alert_id=alert_id))
    [(count,)] = con.execute("SELECT count(*) FROM alerts WHERE starts_with(alert_id, ?)",
                             [alert_id]).fetchall()
    raise NotFoundError(ALERT_AMBIGUOUS.format(alert_id=alert_id, count=count))


def _active_alert(con: duckdb.DuckDBPyConnection, f: Finding) -> Alert | None:
    row = con.execute(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE model = ? AND policy = ? AND rule_id = ? "
        "AND segment = ? AND status IN ('open', 'acknowledged') ORDER BY opened_at DESC LIMIT 1",
        [f.model, f.policy, f.rule_id, f.segment]).fetchone()
    return None if row is None else _row_to(Alert, row)


def _apply_move(con: duckdb.DuckDBPyConnection, alert: Alert, move: _Move, *, actor: str,
                comment: str | None, now: dt.datetime,
                extra: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """Move ``alert`` to ``move.to_status``; write its ledger event and history row;
    return (ledger seq, webhook payload)."""
    if alert.status not in move.allowed:
        raise AlertTransitionError(ILLEGAL_TRANSITION.format(
            verb=move.verb, alert_id=alert.alert_id, status=alert.status,
            allowed=" or ".join(move.allowed), done=move.done))
    con.execute(f"UPDATE alerts SET status = ?, {move.stamp}_at = ?, {move.stamp}_by = ?, "
                "resolution = coalesce(?, resolution), updated_at = ? WHERE alert_id = ?",
                [move.to_status, now, actor, move.resolution, now, alert.alert_id])
    return _record_transition(con, _get_alert(con, alert.alert_id), move.transition,
                              from_status=alert.status, actor=actor, comment=comment,
                              now=now, extra=extra)


def _record_transition(con: duckdb.DuckDBPyConnection, alert: Alert, transition: str, *,
                       from_status: str | None, actor: str, comment: str | None,
                       now: dt.datetime,
                       extra: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    kind = f"alert.{transition}"
    payload = {"alert_id": alert.alert_id, "model": alert.model, "version": alert.version,
               "policy": alert.policy, "rule_id": alert.rule_id, "segment": alert.segment,
               "severity": alert.severity, "from": from_status, "to": alert.status,
               "comment": comment, **(extra or {})}
    event = append_event(con, kind, actor=actor, subject=alert.alert_id, payload=payload, at=now)
    con.execute(f"INSERT INTO alert_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [alert.alert_id, transition, from_status, alert.status, actor, comment, now,
                 event.seq])
    return event.seq, {"event": kind, "actor": actor, "comment": comment,
                       "ledger_seq": event.seq, "alert": json.loads(canonical_json(asdict(alert)))}


def _webhook_for(home: Home, notify_: bool, webhook: WebhookConfig | None) -> WebhookConfig | None:
    """The webhook to notify. A broken ``raigov.toml`` is logged, never allowed to stop
    findings and alerts from being recorded."""
    if not notify_ or webhook is not None:
        return webhook if notify_ else None
    try:
        return load_webhook_config(home)
    except ConfigError as exc:
        log.error(WEBHOOK_CONFIG_IGNORED.format(error=exc))
        return None


_FINDING_COLUMNS = (
    "finding_id, model, version, window_start, window_end, policy, policy_version, "
    "policy_sha256, rule_id, metric, segment, status, severity, observed, judged, judge, op, "
    "threshold, ci_low, ci_high, n, groups, reason, waiver, refs, alert_id, actor, run_id, "
    "evaluated_at")
_INSERT_FINDING = (f"INSERT INTO findings ({_FINDING_COLUMNS}) VALUES "
                   f"({', '.join('?' * len(_FINDING_COLUMNS.split(',')))})")
_INSERT_ALERT = (
    "INSERT INTO alerts (alert_id, model, version, policy, rule_id, rule_key, metric, segment, "
    "severity, status, reason, observed, threshold, opened_at, opened_by, first_window_start, "
    "first_window_end, last_seen_window_start, last_seen_window_end, last_seen_at, fail_count, "
    "passing_streak, updated_at) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)")


def _subject(f: Finding) -> str:
    return f.model if f.version is None else f"{f.model}@{f.version}"


def _newer(moment: dt.datetime | None, than: dt.datetime | None) -> bool:
    utc = _utc(moment)
    return utc is None or than is None or utc > than


class _EvaluationUnit:
    """One :func:`record_findings` call, inside its catalog transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, actor: str, run_id: str,
                 now: dt.datetime, auto_resolve_after: int) -> None:
        self.con, self.actor, self.run_id, self.now = con, actor, run_id, now
        self.auto_resolve_after = auto_resolve_after
        self.opened: list[str] = []
        self.updated: list[str] = []
        self.auto_resolved: list[str] = []
        self.ledger_seqs: list[int] = []
        self.notifications: list[dict[str, Any]] = []

    def record_all(self, findings: list[Finding]) -> None:
        policies: dict[tuple[str, int, str], list[Finding]] = {}
        for f in findings:
            policies.setdefault((f.policy, f.policy_version, f.policy_sha256), []).append(f)
        for (policy, version, sha256), group in policies.items():
            self._event("policy.evaluated", subject=f"{policy}@{version}", payload={
                "policy": policy, "policy_version": version, "policy_sha256": sha256,
                "run_id": self.run_id, "models": sorted({_subject(f) for f in group}),
                "statuses": dict(Counter(f.status for f in group))})
        for f in findings:
            self._record(f)

    def _event(self, kind: str, *, subject: str, payload: dict[str, Any]) -> None:
        event = append_event(self.con, kind, actor=self.actor, subject=subject,
                             payload=payload, at=self.now)
        self.ledger_seqs.append(event.seq)

    def _transition(self, alert: Alert, transition: str, *, actor: str, comment: str | None,
                    extra: dict[str, Any], move: _Move | None = None) -> None:
        if move is None:
            seq, note = _record_transition(self.con, alert, transition, from_status=None,
                                           actor=actor, comment=comment, now=self.now,
                                           extra=extra)
        else:
            seq, note = _apply_move(self.con, alert, move, actor=actor, comment=comment,
                                    now=self.now, extra=extra)
        self.ledger_seqs.append(seq)
        self.notifications.append(note)

    def _record(self, f: Finding) -> None:
        finding_id = uuid7()
        active = _active_alert(self.con, f)
        alert_id = active.alert_id if active is not None else None
        if f.status == "fail":
            alert_id = alert_id or uuid7()
            self._event("finding.recorded", subject=_subject(f), payload={
                "finding_id": finding_id, "alert_id": alert_id, "policy": f.policy,
                "rule_id": f.rule_id, "metric": f.metric, "segment": f.segment,
                "window_start": f.window_start, "window_end": f.window_end,
                "observed": f.observed, "judged": f.judged, "op": f.op,
                "threshold": f.threshold, "severity": f.severity, "reason": f.reason})
            if active is None:
                self._open(alert_id, f, finding_id)
            else:
                self._fail_again(active, f)
        elif active is not None and f.status == "pass":
            self._pass(active, f, finding_id)
        elif active is not None and f.status in ("insufficient_data", "error"):
            self.con.execute("UPDATE alerts SET passing_streak = 0, updated_at = ? "
                             "WHERE alert_id = ?", [self.now, active.alert_id])
        self._insert_finding(f, finding_id, alert_id)

    def _open(self, alert_id: str, f: Finding, finding_id: str) -> None:
        start, end = _utc(f.window_start), _utc(f.window_end)
        self.con.execute(_INSERT_ALERT, [
            alert_id, f.model, f.version, f.policy, f.rule_id, f"{f.policy}/{f.rule_id}",
            f.metric, f.segment, f.severity, f.reason, f.observed, f.threshold, self.now,
            self.actor, start, end, start, end, self.now, self.now])
        self._transition(_get_alert(self.con, alert_id), "opened", actor=self.actor,
                         comment=None, extra={"finding_id": finding_id, "reason": f.reason,
                                              "window_start": start, "observed": f.observed,
                                              "threshold": f.threshold})
        self.opened.append(alert_id)

    def _fail_again(self, alert: Alert, f: Finding) -> None:
        """Deduplicated: the open alert learns of one more failing window."""
        start = _utc(f.window_start)
        new_window = start is None or start != alert.last_seen_window_start
        latest = start is not None and _newer(start, alert.last_seen_window_start)
        self.con.execute(
            "UPDATE alerts SET fail_count = fail_count + ?, passing_streak = 0, version = ?, "
            "severity = ?, reason = ?, observed = ?, threshold = ?, last_seen_at = ?, "
            "last_seen_window_start = CASE WHEN ? THEN ? ELSE last_seen_window_start END, "
            "last_seen_window_end = CASE WHEN ? THEN ? ELSE last_seen_window_end END, "
            "updated_at = ? WHERE alert_id = ?",
            [int(new_window), f.version, f.severity, f.reason, f.observed, f.threshold,
             self.now, latest, start, latest, _utc(f.window_end), self.now, alert.alert_id])
        if alert.alert_id not in self.opened + self.updated:
            self.updated.append(alert.alert_id)

    def _pass(self, alert: Alert, f: Finding, finding_id: str) -> None:
        """A passing window counts only if it is newer than the last failing one and the
        last counted pass (re-evaluating or backfilling a window counts nothing)."""
        start = _utc(f.window_start)
        if not (_newer(start, alert.last_seen_window_start)
                and _newer(start, alert.last_pass_window_start)):
            return
        streak = alert.passing_streak + 1
        self.con.execute("UPDATE alerts SET passing_streak = ?, last_pass_window_start = ?, "
                         "updated_at = ? WHERE alert_id = ?",
                         [streak, start, self.now, alert.alert_id])
        if streak >= self.auto_resolve_after:
            self._transition(_get_alert(self.con, alert.alert_id), "auto_resolved",
                             actor=SYSTEM_ACTOR, move=_AUTO_RESOLVE,
                             comment=AUTO_RESOLVED_COMMENT.format(streak=streak),
                             extra={"finding_id": finding_id, "passing_streak": streak,
                                    "triggered_by": self.actor, "run_id": self.run_id})
            self.auto_resolved.append(alert.alert_id)

    def _insert_finding(self, f: Finding, finding_id: str, alert_id: str | None) -> None:
        self.con.execute(_INSERT_FINDING, [
            finding_id, f.model, f.version, _utc(f.window_start), _utc(f.window_end), f.policy,
            f.policy_version, f.policy_sha256, f.rule_id, f.metric, f.segment, f.status,
            f.severity, f.observed, f.judged, f.judge, f.op, f.threshold, f.ci_low, f.ci_high,
            f.n, canonical_json(f.groups), f.reason,
            None if f.waiver is None else canonical_json(f.waiver), list(f.references),
            alert_id, self.actor, self.run_id, self.now])


def record_findings(home: Home, findings: Iterable[Finding], *, actor: str, run_id: str,
                    auto_resolve_after: int = 2, notify_webhook: bool = True,
                    webhook: WebhookConfig | None = None) -> AlertSummary:
    """Persist ``findings`` and move their alerts, in one catalog transaction.

    Ledger events: ``policy.evaluated`` per policy (with its sha256), ``finding.recorded``
    per failure, and ``alert.opened`` / ``alert.auto_resolved`` per transition. Webhooks
    (``webhook``, else the home's ``raigov.toml``) go out in the background after commit.
    """
    _require_actor(actor, "record findings")
    if isinstance(auto_resolve_after, bool) or not isinstance(auto_resolve_after, int) \
            or auto_resolve_after < 1:
        raise ConfigError(BAD_AUTO_RESOLVE.format(value=auto_resolve_after))
    ordered = sorted(findings, key=_chronological)
    if not ordered:
        return AlertSummary(run_id, 0, (), (), (), ())
    config = _webhook_for(home, notify_webhook, webhook)
    with catalog(home) as con:
        unit = _EvaluationUnit(con, actor=actor, run_id=run_id, now=utcnow(),
                              auto_resolve_after=auto_resolve_after)
        unit.record_all(ordered)
    return AlertSummary(run_id=run_id, findings=len(ordered), opened=tuple(unit.opened),
                        updated=tuple(unit.updated), auto_resolved=tuple(unit.auto_resolved),
                        ledger_seqs=tuple(unit.ledger_seqs),
                        delivery=notify(config, unit.notifications))


def _chronological(f: Finding) -> tuple[dt.datetime, str, str, str, str]:
    start = _utc(f.window_start) or dt.datetime.min.replace(tzinfo=dt.UTC)
    return (start, f.model, f.policy, f.rule_id, f.segment)


def _manual_move(home: Home, alert_id: str, move: _Move, *, actor: str, comment: str | None,
                 notify_webhook: bool, webhook: WebhookConfig | None) -> Alert:
    _require_actor(actor, f"{move.verb} an alert")
    config = _webhook_for(home, notify_webhook, webhook)
    with catalog(home) as con:
        alert = _get_alert(con, alert_id)
        _, payload = _apply_move(con, alert, move, actor=actor, comment=comment, now=utcnow())
        moved = _get_alert(con, alert.alert_id)
    notify(config, [payload])
    return moved


def acknowledge_alert(home: Home, alert_id: str, *, actor: str, comment: str | None = None,
                      notify_webhook: bool = True,
                      webhook: WebhookConfig | None = None) -> Alert:
    """open -> acknowledged. ``alert_id`` may be a unique prefix of the id."""
    return _manual_move(home, alert_id, _ACKNOWLEDGE, actor=actor, comment=comment or None,
                        notify_webhook=notify_webhook, webhook=webhook)


def resolve_alert(home: Home, alert_id: str, *, actor: str, comment: str,
                  notify_webhook: bool = True, webhook: WebhookConfig | None = None) -> Alert:
    """open | acknowledged -> resolved (resolution ``manual``); a comment is required."""
    if not isinstance(comment, str) or not comment.strip():
        raise AlertTransitionError(COMMENT_REQUIRED.format(alert_id=alert_id))
    return _manual_move(home, alert_id, _RESOLVE, actor=actor, comment=comment.strip(),
                        notify_webhook=notify_webhook, webhook=webhook)


def list_alerts(home: Home, *, model: str | None = None, status: str | None = None,
                severity: str | None = None) -> list[Alert]:
    """Alerts, newest first, optionally filtered."""
    _check_choice("status", status, ALERT_STATUSES)
    _check_choice("severity", severity, SEVERITIES)
    with catalog(home, read_only=True) as con:
        try:
            rows = con.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE (? IS NULL OR model = ?) "
                "AND (? IS NULL OR status = ?) AND (? IS NULL OR severity = ?) "
                "ORDER BY opened_at DESC, alert_id DESC",
                [model, model, status, status, severity, severity]).fetchall()
        except duckdb.CatalogException:  # a catalog written before alerts existed
            return []
    return [_row_to(Alert, r) for r in rows]


def alert_history(home: Home, alert_id: str) -> list[AlertEvent]:
    """Every transition of one alert, oldest first."""
    with catalog(home, read_only=True) as con:
        try:
            alert = _get_alert(con, alert_id)
        except duckdb.CatalogException:  # a catalog written before alerts existed
            raise NotFoundError(ALERT_NOT_FOUND.format(alert_id=alert_id)) from None
        rows = con.execute(f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE alert_id = ? "
                           "ORDER BY ledger_seq", [alert.alert_id]).fetchall()
    return [_row_to(AlertEvent, r) for r in rows]
