"""Alerts from findings: open, deduplicate, acknowledge, resolve, auto-resolve, notify."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from raigov.policies import alerts as al
from raigov.policies.record_findings import record_findings
from raigov.policies.findings import Finding
from raigov.policies.notify import CONFIG_INVALID, DELIVERY_FAILED, WebhookConfig, load_webhook_config
from raigov.store.catalog import catalog
from raigov.canonical import iso_utc
from raigov.errors import ConfigError, NotFoundError
from raigov.home import Home
from raigov.ledger.chain import LedgerEvent, read_events
from raigov.ledger.verify import audit_verify

DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def finding(status: str, day: int, *, rule_id: str = "four-fifths-sex",
            segment: str = "sex=Female", model: str = "income",
            severity: str = "critical") -> Finding:
    start = DAY0 + dt.timedelta(days=day)
    observed = 0.7 if status == "fail" else 0.9
    return Finding(
        policy="lending-fairness", policy_version=3, policy_sha256="ab" * 32, rule_id=rule_id,
        metric="fairness.selection_rate_ratio", segment=segment, model=model, version=1,
        window_start=start, window_end=start + dt.timedelta(days=1), status=status,
        severity=severity, reason=f"selection_rate_ratio {observed} vs >= 0.8",
        observed=observed, judged=observed, op=">=", threshold=0.8, n=500,
        groups={"Female": {"value": 0.2, "n": 200}, "Male": {"value": 0.3, "n": 300}},
        references=("EEOC 29 CFR 1607.4(D)",),
        waiver={"reason": "backlog", "approved_by": "risk"} if status == "waived" else None)


def record(home: Home, *findings: Finding, actor: str = "monitor", **kw) -> al.AlertSummary:
    return record_findings(home, list(findings), actor=actor, run_id="run-1",
                              notify_webhook=False, **kw)


def ledger(home: Home, kind: str | None = None) -> list[LedgerEvent]:
    """The events, less the signing key a signed test home's ledger opens with."""
    with catalog(home, read_only=True) as con:
        return [e for e in read_events(con, kind=kind) if e.kind != "ledger.signing_key"]


def test_a_failing_finding_opens_an_alert_recorded_in_the_ledger_by_its_actor(
        home: Home) -> None:
    summary = record(home, finding("fail", 0))
    [alert] = al.list_alerts(home)
    assert summary.opened == (alert.alert_id,) and summary.findings == 1
    assert (alert.status, alert.rule_key, alert.severity) == (
        "open", "lending-fairness/four-fifths-sex", "critical")
    assert (alert.fail_count, alert.first_window_start, alert.opened_by) == (1, DAY0, "monitor")
    events = ledger(home)
    assert [(e.kind, e.actor) for e in events] == [
        ("policy.evaluated", "monitor"), ("finding.recorded", "monitor"),
        ("alert.opened", "monitor")]
    assert events[0].payload["policy_sha256"] == "ab" * 32
    assert events[2].subject == alert.alert_id
    assert [e.seq for e in events] == list(summary.ledger_seqs)
    result = audit_verify(home)
    assert result.ok and result.warnings == ()   # checkpointed after commit


def test_findings_are_persisted_with_their_groups_and_run(home: Home) -> None:
    record(home, finding("fail", 0), finding("pass", 0, rule_id="recall-floor"))
    with catalog(home, read_only=True) as con:
        rows = con.execute("SELECT rule_id, status, groups::VARCHAR, refs, run_id, alert_id "
                           "IS NOT NULL FROM findings ORDER BY rule_id").fetchall()
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        ("four-fifths-sex", "fail", "run-1", True), ("recall-floor", "pass", "run-1", False)]
    assert json.loads(rows[0][2])["Female"] == {"n": 200, "value": 0.2}
    assert rows[0][3] == ["EEOC 29 CFR 1607.4(D)"]


def test_a_repeated_failure_updates_the_open_alert_instead_of_opening_another(
        home: Home) -> None:
    first = record(home, finding("fail", 0))
    second = record(home, finding("fail", 1))
    again = record(home, finding("fail", 1))     # the same window evaluated again
    [alert] = al.list_alerts(home)
    assert second.opened == () and second.updated == first.opened == again.updated
    assert alert.fail_count == 2
    assert alert.last_seen_window_start == DAY0 + dt.timedelta(days=1)
    assert len(ledger(home, "alert.opened")) == 1
    assert len(ledger(home, "finding.recorded")) == 3


def test_an_alert_is_acknowledged_then_resolved_each_step_a_ledger_event(home: Home) -> None:
    alert_id = record(home, finding("fail", 0)).opened[0]
    acked = al.acknowledge_alert(home, alert_id, actor="bob", comment="looking into it")
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "bob")
    resolved = al.resolve_alert(home, alert_id, actor="carol", comment="retrained on v2 data")
    assert (resolved.status, resolved.resolved_by, resolved.resolution) == (
        "resolved", "carol", "manual")
    history = al.alert_history(home, alert_id)
    assert [(h.transition, h.actor, h.comment) for h in history] == [
        ("opened", "monitor", None), ("acknowledged", "bob", "looking into it"),
        ("resolved", "carol", "retrained on v2 data")]
    events = ledger(home)[-2:]
    assert [(e.kind, e.actor, e.payload["comment"]) for e in events] == [
        ("alert.acknowledged", "bob", "looking into it"),
        ("alert.resolved", "carol", "retrained on v2 data")]
    assert [h.ledger_seq for h in history[1:]] == [e.seq for e in events]
    assert audit_verify(home).ok


def test_an_open_alert_can_be_resolved_without_acknowledging_it(home: Home) -> None:
    alert_id = record(home, finding("fail", 0)).opened[0]
    resolved = al.resolve_alert(home, alert_id, actor="carol", comment="false alarm")
    assert resolved.status == "resolved"


def test_illegal_transitions_raise_a_clear_error_and_change_nothing(home: Home) -> None:
    alert_id = record(home, finding("fail", 0)).opened[0]
    al.acknowledge_alert(home, alert_id, actor="bob")
    with pytest.raises(al.AlertTransitionError) as caught:
        al.acknowledge_alert(home, alert_id, actor="bob")
    assert str(caught.value) == (f"Cannot acknowledge alert {alert_id}: it is acknowledged. "
                                 "Only an alert that is open can be acknowledged.")
    al.resolve_alert(home, alert_id, actor="carol", comment="fixed")
    events_before = len(ledger(home))
    with pytest.raises(al.AlertTransitionError) as caught:
        al.resolve_alert(home, alert_id, actor="carol", comment="again")
    assert str(caught.value) == al.ILLEGAL_TRANSITION.format(
        verb="resolve", alert_id=alert_id, status="resolved", allowed="open or acknowledged",
        done="resolved")
    assert caught.value.exit_code == 2
    assert len(ledger(home)) == events_before


def test_resolving_needs_a_comment_and_every_transition_an_actor(home: Home) -> None:
    alert_id = record(home, finding("fail", 0)).opened[0]
    with pytest.raises(al.AlertTransitionError) as caught:
        al.resolve_alert(home, alert_id, actor="carol", comment="  ")
    assert str(caught.value) == al.COMMENT_REQUIRED.format(alert_id=alert_id)
    with pytest.raises(al.AlertTransitionError) as caught:
        al.acknowledge_alert(home, alert_id, actor="")
    assert str(caught.value) == al.ACTOR_REQUIRED.format(action="acknowledge an alert")


def test_an_alert_resolves_itself_after_n_consecutive_passing_windows(home: Home) -> None:
    alert_id = record(home, finding("fail", 0)).opened[0]
    record(home, finding("pass", 1))
    [alert] = al.list_alerts(home)
    assert (alert.status, alert.passing_streak) == ("open", 1)
    summary = record(home, finding("pass", 2))
    [alert] = al.list_alerts(home)
    assert summary.auto_resolved == (alert_id,)
    assert (alert.status, alert.resolution, alert.resolved_by) == ("resolved", "auto", "raigov")
    [event] = ledger(home, "alert.auto_resolved")
    assert event.actor == "raigov" and event.payload["triggered_by"] == "monitor"
    resolving = DAY0 + dt.timedelta(days=2)
    assert event.payload["comment"] == al.AUTO_RESOLVED_COMMENT.format(
        streak=2, window=resolving.isoformat())
    assert (event.payload["window_start"], event.payload["window_end"]) == (
        iso_utc(resolving), iso_utc(resolving + dt.timedelta(days=1)))


def test_auto_resolution_follows_the_configured_number_of_windows_within_one_run(
        home: Home) -> None:
    findings = [finding("fail", 0)] + [finding("pass", d) for d in (3, 1, 2)]
    summary = record(home, *findings, auto_resolve_after=3)
    assert summary.auto_resolved == summary.opened
    [history_last] = al.alert_history(home, summary.opened[0])[-1:]
    assert history_last.transition == "auto_resolved"


@pytest.mark.parametrize("between", ["fail", "insufficient_data", "error"])
def test_a_window_that_does_not_pass_breaks_the_passing_streak(home: Home, between: str) -> None:
    record(home, finding("fail", 0), finding("pass", 1), finding(between, 2),
           finding("pass", 3))
    [alert] = al.list_alerts(home)
    assert (alert.status, alert.passing_streak) == ("open", 1)


def test_a_passing_window_counted_once_even_when_evaluated_again(home: Home) -> None:
    record(home, finding("fail", 1))
    record(home, finding("pass", 2))
    record(home, finding("pass", 2))
    record(home, finding("pass", 0))      # a backfilled window older than the failure
    [alert] = al.list_alerts(home)
    assert (alert.status, alert.passing_streak) == ("open", 1)


def test_waived_and_passing_findings_open_no_alert(home: Home) -> None:
    summary = record(home, finding("waived", 0), finding("pass", 0, rule_id="recall-floor"))
    assert summary.opened == () and al.list_alerts(home) == []
    # The waived finding's waiver is accounted for by a finding.waived event.
    assert [e.kind for e in ledger(home)] == ["policy.evaluated", "finding.waived"]


def test_a_failure_after_resolution_opens_a_new_alert(home: Home) -> None:
    first = record(home, finding("fail", 0)).opened[0]
    al.resolve_alert(home, first, actor="carol", comment="fixed")
    second = record(home, finding("fail", 1)).opened
    assert len(second) == 1 and second[0] != first
    assert [a.status for a in al.list_alerts(home)] == ["open", "resolved"]


def test_alerts_are_listed_by_model_status_and_severity(home: Home) -> None:
    record(home, finding("fail", 0), finding("fail", 0, segment="race=Black"),
           finding("fail", 0, model="credit", severity="warning"))
    assert len(al.list_alerts(home)) == 3
    assert {a.model for a in al.list_alerts(home, model="credit")} == {"credit"}
    assert len(al.list_alerts(home, severity="critical", status="open")) == 2
    with pytest.raises(ConfigError) as caught:
        al.list_alerts(home, status="opn")
    assert str(caught.value) == ("Unknown alert status 'opn'. Allowed: open, acknowledged, "
                                 "resolved. Did you mean 'open'?")


def test_an_alert_is_found_by_a_unique_prefix_of_its_id(home: Home) -> None:
    alert_id = record(home, finding("fail", 0)).opened[0]
    assert al.acknowledge_alert(home, alert_id[:13], actor="bob").alert_id == alert_id
    with pytest.raises(NotFoundError) as caught:
        al.alert_history(home, "nope")
    assert str(caught.value) == al.ALERT_NOT_FOUND.format(alert_id="nope")


# --- webhook -------------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    answers: list[int] = []
    bodies: list[dict] = []
    gate: threading.Event | None = None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.gate is not None:
            self.gate.wait(5)
        type(self).bodies.append(json.loads(body))
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"answers": [], "bodies": [], "gate": None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_a_webhook_that_fails_first_is_retried_and_delivered(
        home: Home, hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    handler.answers = [503]
    summary = record_findings(home, [finding("fail", 0)], actor="monitor", run_id="r",
                                 webhook=WebhookConfig(url=url, backoff_s=0.01))
    assert summary.delivery.wait(10)
    assert (summary.delivery.delivered, summary.delivery.failed) == (1, 0)
    assert len(handler.bodies) == 2
    assert handler.bodies[1]["event"] == "alert.opened"
    assert handler.bodies[1]["alert"]["alert_id"] == summary.opened[0]
    assert handler.bodies[1]["alert"]["opened_at"].endswith("+00:00")


def test_the_webhook_from_raigov_toml_never_blocks_the_evaluation(
        home: Home, hook: tuple[str, type[_Hook]]) -> None:
    url, handler = hook
    (home.root / "raigov.toml").write_text(f'[alerts.webhook]\nurl = "{url}"\n')
    handler.gate = threading.Event()
    started = time.monotonic()
    summary = record_findings(home, [finding("fail", 0)], actor="monitor", run_id="r")
    assert time.monotonic() - started < 2 and not summary.delivery.wait(0.05)
    assert al.list_alerts(home)[0].status == "open"    # committed while delivery waits
    handler.gate.set()
    assert summary.delivery.wait(10) and summary.delivery.delivered == 1


def test_an_unreachable_webhook_is_logged_not_raised(
        home: Home, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = WebhookConfig(url=f"http://127.0.0.1:{port}/", attempts=2, backoff_s=0.01,
                           timeout_s=1)
    with caplog.at_level(logging.WARNING, logger="raigov.policies.notify"):
        summary = record_findings(home, [finding("fail", 0)], actor="monitor", run_id="r",
                                     webhook=config)
        assert summary.delivery.wait(10)
    assert summary.delivery.failed == 1 and summary.opened
    prefix = DELIVERY_FAILED.split("{problem}")[0].format(
        url=config.url, event="alert.opened", alert_id=summary.opened[0], attempts=2)
    assert any(r.getMessage().startswith(prefix) for r in caplog.records)


def test_a_bad_webhook_setting_names_the_file_and_field(home: Home) -> None:
    path = home.root / "raigov.toml"
    path.write_text('[alerts.webhook]\nurl = "ftp://example.com"\n')
    with pytest.raises(ConfigError) as caught:
        load_webhook_config(home)
    assert str(caught.value).startswith(CONFIG_INVALID.format(
        file=path, field="url", problem="Value error, must start with http"))


def test_a_broken_webhook_setting_never_stops_findings_being_recorded(
        home: Home, caplog: pytest.LogCaptureFixture) -> None:
    (home.root / "raigov.toml").write_text('[alerts.webhook]\nurl = "x"\nretries = 3\n')
    with caplog.at_level(logging.ERROR, logger="raigov.policies.alerts"):
        summary = record_findings(home, [finding("fail", 0)], actor="monitor", run_id="r")
    assert summary.opened and summary.delivery is None
    assert any(r.getMessage().startswith("Alert webhook not notified: Invalid ")
               for r in caplog.records)


def test_a_catalog_from_before_alerts_existed_lists_no_alerts(home: Home) -> None:
    con = duckdb.connect(str(home.catalog_path))
    con.execute("CREATE TABLE ledger (seq BIGINT)")
    con.close()
    assert al.list_alerts(home) == []
    with pytest.raises(NotFoundError):
        al.alert_history(home, "0193")
