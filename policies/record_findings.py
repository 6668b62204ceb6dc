"""Recording an evaluation: persist its findings and move their alerts, in one catalog
transaction (see :mod:`raigov.policies.alerts` for the alert life cycle this drives)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

import duckdb

from raigov.policies.alerts import _ALERT_COLUMNS as _ALERT_COLUMNS_SQL
from raigov.policies.alerts import (_AUTO_RESOLVE, AUTO_RESOLVED_COMMENT, BAD_AUTO_RESOLVE,
                                    SYSTEM_ACTOR, Alert, AlertSummary, _active_alert,
                                    _apply_move, _get_alert, _Move, _record_transition,
                                    _require_actor, _row_to, _utc, _webhook_for)
from raigov.policies.findings import Finding
from raigov.policies.notify import WebhookConfig, notify
from raigov.canonical import canonical_json, utcnow
from raigov.clock import starts_in_future
from raigov.store.catalog import catalog, insert_rows
from raigov.errors import ConfigError
from raigov.home import Home
from raigov.ids import uuid7
from raigov.ledger.chain import append_event
from raigov.ledger.reconcile import waiver_digest


_FINDING_COLUMNS = (
    "finding_id, model, version, window_start, window_end, policy, policy_version, "
    "policy_sha256, rule_id, metric, segment, status, severity, observed, judged, judge, op, "
    "threshold, ci_low, ci_high, n, groups, reason, waiver, refs, alert_id, actor, run_id, "
    "evaluated_at")
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


_FINDING_SCHEMA = None


def _finding_schema():
    """The Arrow schema of a batch of finding rows (``_FINDING_COLUMNS`` in order)."""
    global _FINDING_SCHEMA
    if _FINDING_SCHEMA is None:
        import pyarrow as pa

        text, real, stamp = pa.string(), pa.float64(), pa.timestamp("us", tz="UTC")
        types = {"version": pa.int64(), "window_start": stamp, "window_end": stamp,
                 "policy_version": pa.int64(), "observed": real, "judged": real,
                 "threshold": real, "ci_low": real, "ci_high": real, "n": pa.int64(),
                 "refs": pa.list_(text), "evaluated_at": stamp}
        _FINDING_SCHEMA = pa.schema([(c, types.get(c, text)) for c in _FINDING_NAMES])
    return _FINDING_SCHEMA


_FINDING_NAMES = tuple(c.strip() for c in _FINDING_COLUMNS.split(","))
_ACTIVE_ALERTS = (f"SELECT {_ALERT_COLUMNS_SQL} FROM alerts WHERE model IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
                  "AND status IN ('open', 'acknowledged') ORDER BY opened_at DESC")
_AlertKey = tuple[str, str, str, str]


def _alert_key(f: Finding) -> _AlertKey:
    return (f.model, f.policy, f.rule_id, f.segment)


class _EvaluationUnit:
    """One :func:`record_findings` call, inside its catalog transaction.

    Written in batches: the active alerts of the unit's models are read with one query
    (an alert the unit changes is read again when next needed), and the finding rows
    go in with one insert at the end of :meth:`record_all`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, actor: str, run_id: str,
                 now: dt.datetime, auto_resolve_after: int) -> None:
        self.con, self.actor, self.run_id, self.now = con, actor, run_id, now
        self.auto_resolve_after = auto_resolve_after
        self.opened: list[str] = []
        self.updated: list[str] = []
        self.auto_resolved: list[str] = []
        self.ledger_seqs: list[int] = []
        self.notifications: list[dict[str, Any]] = []
        self._active: dict[_AlertKey, Alert | None] = {}
        self._rows: list[tuple[Any, ...]] = []

    def _load_active(self, findings: list[Finding]) -> None:
        models = sorted({f.model for f in findings})
        for row in self.con.execute(_ACTIVE_ALERTS, [models]).fetchall():
            alert = _row_to(Alert, row)
            self._active.setdefault((alert.model, alert.policy, alert.rule_id,
                                     alert.segment), alert)
        for f in findings:   # no active alert for the rest (until the unit opens one)
            self._active.setdefault(_alert_key(f), None)

    def _active_for(self, f: Finding) -> Alert | None:
        key = _alert_key(f)
        if key not in self._active:            # changed by this unit: read it again
            self._active[key] = _active_alert(self.con, f)
        return self._active[key]

    def _changed(self, alert: Alert) -> None:
        self._active.pop((alert.model, alert.policy, alert.rule_id, alert.segment), None)

    def record_all(self, findings: list[Finding]) -> None:
        policies: dict[tuple[str, int, str], list[Finding]] = {}
        for f in findings:
            policies.setdefault((f.policy, f.policy_version, f.policy_sha256), []).append(f)
        for (policy, version, sha256), group in policies.items():
            self._event("policy.evaluated", subject=f"{policy}@{version}", payload={
                "policy": policy, "policy_version": version, "policy_sha256": sha256,
                "run_id": self.run_id, "models": sorted({_subject(f) for f in group}),
                "statuses": dict(Counter(f.status for f in group))})
        self._load_active(findings)
        for f in findings:
            self._record(f)
        self._flush_findings()

    def _flush_findings(self) -> None:
        import pyarrow as pa

        if not self._rows:
            return
        columns = list(zip(*self._rows))
        table = pa.table([pa.array(list(values), type=field.type) for values, field
                          in zip(columns, _finding_schema())], schema=_finding_schema())
        insert_rows(self.con, "findings", _FINDING_NAMES, table,
                    json_columns=("groups", "waiver"))
        self._rows.clear()

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
        active = self._active_for(f)
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
            self._changed(active)
        self._insert_finding(f, finding_id, alert_id)
        if f.status == "waived" or f.waiver is not None:
            # The waiver a finding carries is accounted for by the ledger
            # (raigov.ledger.reconcile checks the findings table against it).
            self._event("finding.waived", subject=_subject(f), payload={
                "finding_id": finding_id, "policy": f.policy, "rule_id": f.rule_id,
                "segment": f.segment, "window_start": f.window_start, "status": f.status,
                "waiver_sha256": waiver_digest(
                    None if f.waiver is None else canonical_json(f.waiver))})

    def _open(self, alert_id: str, f: Finding, finding_id: str) -> None:
        start, end = _utc(f.window_start), _utc(f.window_end)
        self.con.execute(_INSERT_ALERT, [
            alert_id, f.model, f.version, f.policy, f.rule_id, f"{f.policy}/{f.rule_id}",
            f.metric, f.segment, f.severity, f.reason, f.observed, f.threshold, self.now,
            self.actor, start, end, start, end, self.now, self.now])
        self._active.pop(_alert_key(f), None)
        self._transition(_get_alert(self.con, alert_id), "opened", actor=self.actor,
                         comment=None, extra={"finding_id": finding_id, "reason": f.reason,
                                              "window_start": start, "observed": f.observed,
                                              "threshold": f.threshold})
        self.opened.append(alert_id)

    def _fail_again(self, alert: Alert, f: Finding) -> None:
        """Deduplicated: the open alert learns of one more failing window (a window in
        the future never becomes its last seen one: no later pass could count)."""
        start = _utc(f.window_start)
        new_window = start is None or start != alert.last_seen_window_start
        latest = start is not None and _newer(start, alert.last_seen_window_start) \
            and not starts_in_future(start, now=self.now)
        self.con.execute(
            "UPDATE alerts SET fail_count = fail_count + ?, passing_streak = 0, version = ?, "
            "severity = ?, reason = ?, observed = ?, threshold = ?, last_seen_at = ?, "
            "last_seen_window_start = CASE WHEN ? THEN ? ELSE last_seen_window_start END, "
            "last_seen_window_end = CASE WHEN ? THEN ? ELSE last_seen_window_end END, "
            "updated_at = ? WHERE alert_id = ?",
            [int(new_window), f.version, f.severity, f.reason, f.observed, f.threshold,
             self.now, latest, start, latest, _utc(f.window_end), self.now, alert.alert_id])
        self._changed(alert)
        if alert.alert_id not in self.opened + self.updated:
            self.updated.append(alert.alert_id)

    def _pass(self, alert: Alert, f: Finding, finding_id: str) -> None:
        """A passing window counts only if it is newer than the last failing one and the
        last counted pass (re-evaluating or backfilling a window counts nothing), and
        never when it starts in the future. Only ``pass`` gets here: a window judged
        ``insufficient_data`` or ``error`` breaks the streak instead."""
        start = _utc(f.window_start)
        if start is not None and starts_in_future(start, now=self.now):
            return
        if not (_newer(start, alert.last_seen_window_start)
                and _newer(start, alert.last_pass_window_start)):
            return
        streak = alert.passing_streak + 1
        self.con.execute("UPDATE alerts SET passing_streak = ?, last_pass_window_start = ?, "
                         "updated_at = ? WHERE alert_id = ?",
                         [streak, start, self.now, alert.alert_id])
        self._changed(alert)
        if streak >= self.auto_resolve_after:
            self._transition(_get_alert(self.con, alert.alert_id), "auto_resolved",
                             actor=SYSTEM_ACTOR, move=_AUTO_RESOLVE,
                             comment=AUTO_RESOLVED_COMMENT.format(
                                 streak=streak, window=_window_text(start)),
                             extra={"finding_id": finding_id, "passing_streak": streak,
                                    "triggered_by": self.actor, "run_id": self.run_id,
                                    "window_start": start, "window_end": _utc(f.window_end),
                                    "observed": f.observed, "n": f.n})
            self.auto_resolved.append(alert.alert_id)

    def _insert_finding(self, f: Finding, finding_id: str, alert_id: str | None) -> None:
        self._rows.append((
            finding_id, f.model, f.version, _utc(f.window_start), _utc(f.window_end), f.policy,
            f.policy_version, f.policy_sha256, f.rule_id, f.metric, f.segment, f.status,
            f.severity, f.observed, f.judged, f.judge, f.op, f.threshold, f.ci_low, f.ci_high,
            f.n, canonical_json(f.groups), f.reason,
            None if f.waiver is None else canonical_json(f.waiver), list(f.references),
            alert_id, self.actor, self.run_id, self.now))


def record_findings(home: Home, findings: Iterable[Finding], *, actor: str, run_id: str,
                    auto_resolve_after: int = 2, notify_webhook: bool = True,
                    webhook: WebhookConfig | None = None) -> AlertSummary:
    """Persist ``findings`` and move their alerts, in one catalog transaction.

    Ledger events: ``policy.evaluated`` per policy (with its sha256), ``finding.recorded``
    per failure, and ``alert.opened`` / ``alert.auto_resolved`` per transition. Webhooks
    (``webhook``, else the home's ``raigov.toml``) go out in the background after commit.
    """
    ordered = _checked(findings, actor=actor, auto_resolve_after=auto_resolve_after)
    if not ordered:
        return AlertSummary(run_id, 0, (), (), (), ())
    config = _webhook_for(home, notify_webhook, webhook)
    with catalog(home) as con:
        unit = record_findings_in(con, ordered, actor=actor, run_id=run_id,
                                  auto_resolve_after=auto_resolve_after)
    return summarize(unit, findings=len(ordered), config=config)


def _checked(findings: Iterable[Finding], *, actor: str, auto_resolve_after: int) -> list[Finding]:
    _require_actor(actor, "record findings")
    if isinstance(auto_resolve_after, bool) or not isinstance(auto_resolve_after, int) \
            or auto_resolve_after < 1:
        raise ConfigError(BAD_AUTO_RESOLVE.format(value=auto_resolve_after))
    return sorted(findings, key=_chronological)


def record_findings_in(con: duckdb.DuckDBPyConnection, findings: Iterable[Finding], *,
                       actor: str, run_id: str, auto_resolve_after: int = 2) -> _EvaluationUnit:
    """What :func:`record_findings` writes, inside the caller's open catalog transaction
    (so it commits with the caller's other writes, or not at all). Nothing is notified:
    after the commit, hand the returned unit to :func:`summarize`."""
    ordered = _checked(findings, actor=actor, auto_resolve_after=auto_resolve_after)
    unit = _EvaluationUnit(con, actor=actor, run_id=run_id, now=utcnow(),
                           auto_resolve_after=auto_resolve_after)
    unit.record_all(ordered)
    return unit


def summarize(unit: _EvaluationUnit, *, findings: int,
              config: WebhookConfig | None) -> AlertSummary:
    """The summary of a committed unit; its webhooks go out now (in the background)."""
    return AlertSummary(run_id=unit.run_id, findings=findings, opened=tuple(unit.opened),
                        updated=tuple(unit.updated), auto_resolved=tuple(unit.auto_resolved),
                        ledger_seqs=tuple(unit.ledger_seqs),
                        delivery=notify(config, unit.notifications))


def _window_text(start: dt.datetime | None) -> str:
    return "(none)" if start is None else start.isoformat()


def _chronological(f: Finding) -> tuple[dt.datetime, str, str, str, str]:
    start = _utc(f.window_start) or dt.datetime.min.replace(tzinfo=dt.UTC)
    return (start, f.model, f.policy, f.rule_id, f.segment)
