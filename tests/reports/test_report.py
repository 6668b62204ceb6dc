"""Audit reports: the catalog's figures, every finding and alert (with its lifecycle),
the policies in force with their hashes, waivers, the evidence, the regulatory mapping,
a published schema, and data rendered as text."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import pytest

from raigov.monitors.store import read_metric_rows
from raigov.policies import alerts as al
from raigov.policies.findings import Finding
from raigov.policies.record_findings import record_findings
from raigov.reports.audit import build_report, report_facts
from raigov.reports.card import card_facts
from raigov.reports.formatting import format_value
from raigov.reports.schema import schema_validator
from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.ledger.chain import head
from tests.reports.report_helpers import (DEMO_MODELS, HOSTILE_NAME, catalog_figure,
                                          register_copy)


def bundle(home: Home, model: str, **period: dt.datetime) -> dict:
    return json.loads(build_report(home, model, fmt="json", **period))


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_the_report_holds_the_catalogs_figures_findings_policies_and_alerts(
        seeded_home_template: Home, model: str) -> None:
    home = seeded_home_template
    facts = bundle(home, model)["facts"]
    assert facts["card"] == card_facts(home, model)
    with catalog(home, read_only=True) as con:
        [(findings,)] = con.execute("SELECT count(*) FROM findings WHERE model = ?",
                                    [model]).fetchall()
        ledger_events, ledger_head = head(con)
    assert len(facts["findings"]["items"]) == findings > 0
    assert sum(facts["findings"]["counts"].values()) == findings
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in home.policies.glob("*.yaml")}
    assert {p["path"].split("/")[-1]: p["sha256"] for p in facts["policies"]}.items() <= \
        files.items()
    alerts = {a.alert_id: a for a in al.list_alerts(home, model=model)}
    assert {a["alert_id"] for a in facts["alerts"]} == set(alerts) != set()
    assert all(a["status"] == alerts[a["alert_id"]].status for a in facts["alerts"])
    assert facts["evidence"]["ledger"] == {"head_seq": ledger_events, "head_hash": ledger_head,
                                           "events": ledger_events}
    assert facts["evidence"]["verification"] == {"ok": True, "problems": []}
    rows = read_metric_rows(home, model=model, metric_prefix="performance.accuracy")
    expected = rows[rows["segment"] == "all"]["value"].tolist()
    [series] = [s for s in facts["metric_series"] if s["metric"] == "performance.accuracy"]
    assert [p["value"] for p in series["points"]] == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_the_json_report_validates_against_its_published_schema(
        seeded_home_template: Home, model: str) -> None:
    errors = list(schema_validator("audit_report").iter_errors(bundle(seeded_home_template,
                                                                      model)))
    assert errors == []


def test_the_html_report_shows_headline_figures_and_each_alert_lifecycle(
        module_home: Home) -> None:
    opened = [a for a in al.list_alerts(module_home, model="income-classifier")
              if a.status == "open"]
    al.acknowledge_alert(module_home, opened[0].alert_id, actor="alice",
                         comment="Label backlog; looking into it", notify_webhook=False)
    al.resolve_alert(module_home, opened[1].alert_id, actor="bob",
                     comment="Threshold agreed with the risk office", notify_webhook=False)
    html = build_report(module_home, "income-classifier", fmt="html").decode()
    accuracy = catalog_figure(module_home, "income-classifier", "performance.accuracy")
    assert format_value(accuracy.value) in html
    for text in ("alice", "Label backlog; looking into it", "bob",
                 "Threshold agreed with the risk office", "acknowledged", "resolved"):
        assert text in html
    facts = report_facts(module_home, "income-classifier")
    [acked] = [a for a in facts["alerts"] if a["alert_id"] == opened[0].alert_id]
    assert [(e["transition"], e["actor"]) for e in acked["history"]] == [
        ("opened", "raigov"), ("acknowledged", "alice")]
    assert acked["history"][1]["comment"] == "Label backlog; looking into it"


def test_a_period_holds_only_its_windows_findings_and_points(seeded_home_template: Home) -> None:
    home = seeded_home_template
    starts = sorted(read_metric_rows(home, model="credit-risk")["window_start"].unique())
    since, until = pd.Timestamp(starts[1]).to_pydatetime(), pd.Timestamp(starts[-1]).to_pydatetime()
    facts = report_facts(home, "credit-risk", since=since, until=until)
    assert facts["period"]["windows"] == len(starts) - 2
    inside = [dt.datetime.fromisoformat(f["window_start"]) for f in facts["findings"]["items"]]
    assert inside and all(since <= s < until for s in inside)
    for series in facts["metric_series"]:
        assert all(since <= dt.datetime.fromisoformat(p["window_start"]) < until
                   for p in series["points"])


def test_a_waiver_used_in_the_period_is_reported_with_its_approval(module_home: Home) -> None:
    start = read_metric_rows(module_home, model="credit-risk")["window_start"].max()
    start = pd.Timestamp(start).to_pydatetime()
    waived = Finding(policy="performance-floors", policy_version=1, policy_sha256="ab" * 32,
                     rule_id="recall-floor", metric="performance.recall", segment="all",
                     model="credit-risk", version=1, window_start=start,
                     window_end=start + dt.timedelta(days=1), status="waived",
                     severity="warning", reason="recall 0.4 violates >= 0.6 (waived)",
                     observed=0.4, judged=0.4, op=">=", threshold=0.6, n=80,
                     waiver={"rule": "recall-floor", "reason": "Label backlog after migration",
                             "approved_by": "risk-office", "expires": "2099-12-31"})
    record_findings(module_home, [waived], actor="test", run_id="run-w",
                    notify_webhook=False)
    facts = report_facts(module_home, "credit-risk")
    assert facts["waivers_used"] == [{
        "policy": "performance-floors", "rule_id": "recall-floor",
        "reason": "Label backlog after migration", "approved_by": "risk-office",
        "expires": "2099-12-31", "findings": 1,
        "first_window_start": facts["waivers_used"][0]["first_window_start"],
        "last_window_start": facts["waivers_used"][0]["last_window_start"]}]
    html = build_report(module_home, "credit-risk", fmt="html").decode()
    assert "Label backlog after migration" in html and "risk-office" in html


def test_waivers_declared_in_the_policies_in_force_are_listed_with_their_state(
        seeded_home: Home) -> None:
    (seeded_home.policies / "recall-waiver.yaml").write_text(WAIVED_POLICY)
    facts = report_facts(seeded_home, "credit-risk")
    [policy] = [p for p in facts["policies"] if p["policy"] == "recall-waiver"]
    assert policy["waivers"] == [{"rule": "recall-floor", "reason": "Label backlog",
                                  "approved_by": "risk-office", "expires": "2099-12-31",
                                  "active": True}]
    assert policy["sha256"] == hashlib.sha256(WAIVED_POLICY.encode()).hexdigest()
    assert not policy["judged_findings_in_period"]
    html = build_report(seeded_home, "credit-risk", fmt="html").decode()
    assert "Waivers declared in the policies in force" in html


WAIVED_POLICY = """\
policy: recall-waiver
version: 1
applies_to: {models: [credit-risk]}
rules:
  - id: recall-floor
    metric: performance.recall
    op: ">="
    threshold: 0.6
waivers:
  - rule: recall-floor
    reason: Label backlog
    approved_by: risk-office
    expires: 2099-12-31
"""


def test_a_hostile_model_name_renders_as_text_in_cards_and_reports(module_home: Home) -> None:
    from raigov.reports.card import build_card

    register_copy(module_home, "credit-risk", name=HOSTILE_NAME)
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for text in (build_card(module_home, HOSTILE_NAME, fmt="html"),
                 build_card(module_home, HOSTILE_NAME, fmt="md"),
                 build_report(module_home, HOSTILE_NAME, fmt="html").decode()):
        assert "<img" not in text
        assert escaped in text
    facts = json.loads(build_report(module_home, HOSTILE_NAME, fmt="json"))["facts"]
    assert facts["model"] == HOSTILE_NAME


def levels(home: Home, model: str) -> dict[tuple[str, str], dict]:
    return {(p["framework"], p["ref"]): p for p in report_facts(home, model)["compliance"]}


def test_the_mapping_marks_what_the_report_cannot_evidence(module_home: Home) -> None:
    points = levels(module_home, "income-classifier")
    assert points[("EU AI Act Annex IV", "2(h)")]["level"] == "not evidenced"
    assert points[("NIST AI RMF 1.0", "MEASURE 2.10")]["level"] == "not evidenced"
    assert points[("NIST AI RMF 1.0", "MEASURE 2.11")]["level"] == "evidenced"
    assert points[("NIST AI RMF 1.0", "MANAGE 4.1")]["level"] == "evidenced"
    register_copy(module_home, "income-classifier", name="income-unmonitored",
                  limitations=None)
    points = levels(module_home, "income-unmonitored")
    assert points[("NIST AI RMF 1.0", "MAP 2.2")]["level"] == "partly evidenced"
    assert "the card does not provide limitations" in points[("NIST AI RMF 1.0", "MAP 2.2")]["note"]
    assert points[("NIST AI RMF 1.0", "MEASURE 2.11")]["level"] == "not evidenced"
    assert "no fairness figure in the period" in points[("NIST AI RMF 1.0", "MEASURE 2.11")]["note"]


def test_quarantined_rows_are_counted_by_reason_and_day(module_home: Home) -> None:
    from raigov.models.capture.records import quarantine_table
    from raigov.models.capture.segments import write_segment

    rows = [{"row_index": i, "payload": {"age": -5}, "reason": "age: -5 is below 17",
             "reasons": [{"field": "age"}]} for i in range(3)]
    rows.append({"row_index": None, "payload": "{not json", "reason": "invalid JSON"})
    table = quarantine_table(rows, version=1, request_id="req-1")
    day = table.column("received_at")[0].as_py().date().isoformat()
    write_segment(module_home, ("quarantine", "credit-risk", day), [table], stem="test-q")
    facts = report_facts(module_home, "credit-risk")
    assert facts["data_quality"]["quarantine"] == {
        "total": 4, "by_reason": [{"reason": "age: -5 is below 17", "rows": 3},
                                  {"reason": "invalid JSON", "rows": 1}],
        "by_day": [{"date": day, "rows": 4}]}
    assert facts["summary"]["quarantined_rows"] == 4
    html = build_report(module_home, "credit-risk", fmt="html").decode()
    assert "age: -5 is below 17" in html
