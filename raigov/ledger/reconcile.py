"""Reconcile the catalog's state tables with the ledger's events.

The hash chain proves the events were not edited; the state tables (users, alerts and
their transitions, waived findings, metric rows) are what the dashboard and reports
read. Someone with write access to ``catalog.duckdb`` can edit a table row without
touching the ledger, so :func:`reconcile_state` replays the events and names every row
the ledger does not account for:

- users: each user's role (and whether it has a password) is the one its last
  ``user.*`` event set; a user with no event, or removed by one, is unaccounted for;
- alerts: each alert's status, severity, model, policy, rule and segment are those of
  its last ``alert.*`` event; each ``alert_events`` row names an event of its
  transition, alert, status and actor;
- waivers: a finding marked waived carries the waiver its ``finding.waived`` event
  recorded (same status and waiver digest);
- metric rows: each window's rows hash to the digest its ``monitor.window_computed``
  event recorded (:func:`metric_window_digest`); a window with rows and no event is
  unaccounted for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import duckdb

from raigov.canonical import canonical_json, iso_utc, sha256_hex
from raigov.ledger.chain import LedgerEvent

WINDOW_EVENT = "monitor.window_computed"
USER_UNACCOUNTED = "user {name}: {what} in the catalog, {expected}: the users table was edited"
ALERT_UNACCOUNTED = ("alert {alert_id}: {field} is {actual!r} in the catalog, but its last "
                     "ledger event (event {seq}, {kind}) says {expected!r}: the alerts table "
                     "was edited")
ALERT_NO_EVENT = "alert {alert_id}: no ledger event opened it: the row was added to the catalog"
TRANSITION_UNACCOUNTED = ("alert {alert_id}: transition {transition} (ledger_seq {seq}) {why}: "
                          "the alert_events table was edited")
WAIVER_UNACCOUNTED = ("finding {finding_id} ({rule}): {why}: the findings table was edited")
METRIC_UNACCOUNTED = ("metric rows of {model}@{version}, window {start}: {why}: the "
                      "metric_rows table was edited")


def _problem(message: str, seq: int | None = None,
             kind: str | None = None) -> tuple[str, int | None, str | None]:
    """(message, event seq, event kind): :mod:`raigov.ledger.verify` makes the Problem."""
    return message, seq, kind


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def metric_window_digest(con: duckdb.DuckDBPyConnection, model: str, version: int,
                         start: dt.datetime) -> tuple[str, int]:
    """(SHA-256, row count) of one window's metric rows, in a fixed order and form."""
    rows = con.execute(
        "SELECT family, metric, segment, value, ci_low, ci_high, n, status, details::VARCHAR "
        "FROM metric_rows WHERE model = ? AND version = ? AND window_start = ? "
        "ORDER BY family, metric, segment", [model, version, start]).fetchall()
    # The details as DuckDB stores them (its JSON text is deterministic); hashed, not
    # parsed, so a window of thousands of rows reconciles in milliseconds.
    body = [[_jsonable(v) for v in r[:8]] + [None if r[8] is None else sha256_hex(r[8])]
            for r in rows]
    return sha256_hex(json.dumps(body, separators=(",", ":"), allow_nan=False)), len(rows)


def waiver_digest(waiver_json: str | None) -> str | None:
    if waiver_json is None:
        return None
    return sha256_hex(canonical_json(json.loads(waiver_json)))


def reconcile_state(con: duckdb.DuckDBPyConnection,
                    events: Sequence[LedgerEvent]) -> list:
    return (_users(con, events) + _alerts(con, events) + _waivers(con, events)
            + _metric_windows(con, events))


def _users(con: duckdb.DuckDBPyConnection, events: Sequence[LedgerEvent]) -> list:
    expected: dict[str, dict[str, Any] | None] = {}
    for e in events:
        name = e.payload.get("name")
        if e.kind == "user.added":
            expected[name] = {"role": e.payload.get("role"),
                              "password": e.payload.get("password")}
        elif e.kind == "user.role_changed" and expected.get(name):
            expected[name] = {**expected[name], "role": e.payload.get("to")}
        elif e.kind == "user.password_changed" and expected.get(name):
            expected[name] = {**expected[name], "password": e.payload.get("password")}
        elif e.kind == "user.removed":
            expected[name] = None
    out = []
    for name, role, has_password in con.execute(
            "SELECT name, role, password_hash IS NOT NULL FROM users ORDER BY name").fetchall():
        want = expected.get(name)
        if want is None:
            out.append(_problem(USER_UNACCOUNTED.format(
                name=name, what=f"role {role}",
                expected="but no ledger event added it (or one removed it)")))
        elif want["role"] != role:
            out.append(_problem(USER_UNACCOUNTED.format(
                name=name, what=f"role {role}",
                expected=f"the ledger's last user event says {want['role']}")))
        elif want["password"] is not None and bool(want["password"]) != bool(has_password):
            out.append(_problem(USER_UNACCOUNTED.format(
                name=name, what="password " + ("set" if has_password else "unset"),
                expected="the ledger says " + ("set" if want["password"] else "unset"))))
    return out


_ALERT_FIELDS = (("status", "to"), ("severity", "severity"), ("model", "model"),
                 ("policy", "policy"), ("rule_id", "rule_id"), ("segment", "segment"))


def _alerts(con: duckdb.DuckDBPyConnection, events: Sequence[LedgerEvent]) -> list:
    last: dict[str, LedgerEvent] = {}
    by_seq = {e.seq: e for e in events}
    for e in events:
        if e.kind.startswith("alert.") and "alert_id" in e.payload:
            last[e.payload["alert_id"]] = e
    out = []
    cols = ", ".join(c for c, _ in _ALERT_FIELDS)
    for row in con.execute(f"SELECT alert_id, {cols} FROM alerts ORDER BY alert_id").fetchall():
        alert_id, values = row[0], dict(zip((c for c, _ in _ALERT_FIELDS), row[1:]))
        event = last.get(alert_id)
        if event is None:
            out.append(_problem(ALERT_NO_EVENT.format(alert_id=alert_id)))
            continue
        for column, key in _ALERT_FIELDS:
            if key in event.payload and event.payload[key] != values[column]:
                out.append(_problem(ALERT_UNACCOUNTED.format(
                    alert_id=alert_id, field=column, actual=values[column], seq=event.seq,
                    kind=event.kind, expected=event.payload[key]), event.seq, event.kind))
                break
    for alert_id, transition, to_status, actor, seq in con.execute(
            "SELECT alert_id, transition, to_status, actor, ledger_seq FROM alert_events "
            "ORDER BY ledger_seq").fetchall():
        event = by_seq.get(seq)
        why = None
        if event is None:
            why = "names no ledger event"
        elif event.kind != f"alert.{transition}" or event.payload.get("alert_id") != alert_id:
            why = f"names event {seq} ({event.kind}), not an alert.{transition} of this alert"
        elif event.payload.get("to") != to_status or event.actor != actor:
            why = (f"says {to_status!r} by {actor!r}; event {seq} says "
                   f"{event.payload.get('to')!r} by {event.actor!r}")
        if why:
            out.append(_problem(TRANSITION_UNACCOUNTED.format(
                alert_id=alert_id, transition=transition, seq=seq, why=why)))
    return out


def _waivers(con: duckdb.DuckDBPyConnection, events: Sequence[LedgerEvent]) -> list:
    recorded = {e.payload["finding_id"]: e for e in events
                if e.kind == "finding.waived" and "finding_id" in e.payload}
    out = []
    for finding_id, rule, status, waiver in con.execute(
            "SELECT finding_id, policy || '/' || rule_id, status, waiver::VARCHAR FROM findings "
            "WHERE waiver IS NOT NULL OR status = 'waived' ORDER BY finding_id").fetchall():
        event = recorded.get(finding_id)
        if event is None or "waiver_sha256" not in event.payload:
            if event is None:
                out.append(_problem(WAIVER_UNACCOUNTED.format(
                    finding_id=finding_id, rule=rule,
                    why="waived, but no ledger event recorded the finding")))
            continue
        if event.payload.get("status") != status:
            out.append(_problem(WAIVER_UNACCOUNTED.format(
                finding_id=finding_id, rule=rule,
                why=f"status {status!r}, event {event.seq} recorded "
                    f"{event.payload.get('status')!r}"), event.seq, event.kind))
        elif event.payload["waiver_sha256"] != waiver_digest(waiver):
            out.append(_problem(WAIVER_UNACCOUNTED.format(
                finding_id=finding_id, rule=rule,
                why=f"its waiver differs from the one event {event.seq} recorded"),
                event.seq, event.kind))
    return out


def _metric_windows(con: duckdb.DuckDBPyConnection, events: Sequence[LedgerEvent]) -> list:
    recorded: dict[tuple[str, int, str], LedgerEvent] = {}
    for e in events:
        if e.kind == WINDOW_EVENT:
            p = e.payload
            recorded[(p["model"], int(p["version"]), p["window_start"])] = e
    if not recorded:
        return []   # a ledger from before window digests: nothing to reconcile against
    out = []
    for model, version, start in con.execute(
            "SELECT DISTINCT model, version, window_start FROM metric_rows "
            "ORDER BY model, version, window_start").fetchall():
        key = (model, int(version), iso_utc(start))
        event = recorded.get(key)
        if event is None:
            out.append(_problem(METRIC_UNACCOUNTED.format(
                model=model, version=version, start=key[2],
                why="no monitor.window_computed event recorded them")))
            continue
        digest, count = metric_window_digest(con, model, int(version), start)
        if digest != event.payload.get("rows_sha256"):
            out.append(_problem(METRIC_UNACCOUNTED.format(
                model=model, version=version, start=key[2],
                why=(f"{count} row(s) hash to {digest[:12]}, event {event.seq} recorded "
                     f"{event.payload.get('metric_rows')} row(s) hashing to "
                     f"{str(event.payload.get('rows_sha256'))[:12]}")), event.seq, event.kind))
    return out
