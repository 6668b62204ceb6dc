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
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import duckdb

from raigov.policies.findings import Finding
from raigov.policies.notify import Delivery, WebhookConfig, load_webhook_config, notify
from raigov.canonical import canonical_json, utcnow
from raigov.store.catalog import catalog
from raigov.errors import ConfigError, InputError, NotFoundError, did_you_mean
from raigov.home import Home
from raigov.ledger.chain import append_event

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
AUTO_RESOLVED_COMMENT = ("passed {streak} consecutive window(s) judged with enough data; "
                         "resolved by the window starting {window}")
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
