"""Audit reports: for one model and period, the card, the policies in force with their
hashes, every finding, every alert with its lifecycle, the waivers used, metric charts,
data quality and quarantine, the evidence behind it all, and a mapping to EU AI Act
Annex IV and NIST AI RMF. ``report_facts`` gathers the facts (pure reads); the facts
hash is the SHA-256 of their canonical JSON, so the same evidence gives the same hash
whenever it is exported. ``build_report`` renders HTML (one self-contained file), PDF
(from that HTML) or the JSON bundle (``schema/audit_report.schema.json``)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any, Literal

import pandas as pd

from raigov.models.registry import get_model
from raigov.monitors.store import read_metric_rows
from raigov.reports import facts_evidence as ev
from raigov.reports import facts_governance as gov
from raigov.reports.card import card_facts, check_format
from raigov.reports.compliance import assess
from raigov.reports.queries import facts_ledger_head, jsonable
from raigov.canonical import canonical_json, sha256_hex, utcnow
from raigov.home import Home

ReportFormat = Literal["html", "pdf", "json"]
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "json")
REPORT_SCHEMA_VERSION = "1.0"
REPORT_KIND = "raigov.audit_report"
UNKNOWN_REPORT_FORMAT = "Unknown report format '{fmt}'. Allowed: {allowed}.{hint}"
SNAPSHOT_TRIES = 3


def facts_sha256(facts: dict[str, Any]) -> str:
    """SHA-256 of the facts' canonical JSON (export time and id are not facts)."""
    return sha256_hex(canonical_json(facts))


def period_facts(since: dt.datetime | None, until: dt.datetime | None,
                 rows: pd.DataFrame) -> dict[str, Any]:
    windows = rows[["version", "window_start"]].drop_duplicates() if not rows.empty else rows
    return jsonable({
        "since": since, "until": until, "windows": len(windows),
        "first_window_start": rows["window_start"].min().to_pydatetime() if len(rows) else None,
        "last_window_end": rows["window_end"].max().to_pydatetime() if len(rows) else None,
        "versions": sorted({int(v) for v in rows["version"]}) if len(rows) else []})


def _as_of_day(until: dt.datetime | None, rows: pd.DataFrame, fallback: dt.datetime) -> dt.date:
    """The day waivers are judged active on: the period's last day with evidence, so
    the facts do not depend on the day they are exported."""
    if len(rows):
        return (rows["window_end"].max().to_pydatetime() - dt.timedelta(microseconds=1)).date()
    return (until or fallback).date()


def summary(facts: dict[str, Any]) -> dict[str, Any]:
    """The headline: finding counts, alerts by status and severity, verification."""
    alerts = facts["alerts"]
    return {"findings": facts["findings"]["counts"],
            "alerts": dict(sorted(Counter(a["status"] for a in alerts).items())),
            "open_critical_alerts": sum(1 for a in alerts if a["status"] != "resolved"
                                        and a["severity"] == "critical"),
            "waivers_used": len(facts["waivers_used"]),
            "quarantined_rows": facts["data_quality"]["quarantine"]["total"],
            "ledger_verified": facts["evidence"]["verification"]["ok"],
            "missing_card_fields": facts["card"]["missing"]}


def _gather(home: Home, model: str, since: dt.datetime | None,
            until: dt.datetime | None) -> dict[str, Any]:
    latest = get_model(home, model)
    rows = read_metric_rows(home, model=model, since=since, until=until)
    version = int(rows["version"].iloc[-1]) if len(rows) else latest.version
    registered = latest if version == latest.version else get_model(home, model, version)
    card = card_facts(home, model, version=version, since=since, until=until)
    findings = gov.findings_section(home, model=model, since=since, until=until)
    policies = gov.policies_section(home, model=model, tags=list(registered.spec.tags),
                                    as_of=_as_of_day(until, rows, registered.created_at),
                                    judged=findings["items"])
    facts: dict[str, Any] = {
        "model": model, "version": version, "period": period_facts(since, until, rows),
        "card": card, "policies": policies, "findings": findings,
        "alerts": gov.alerts_section(home, model=model, since=since, until=until),
        "waivers_used": gov.waivers_used(findings["items"]),
        "metric_series": ev.metric_series(rows, sensitive=list(registered.spec.sensitive),
                                          policies=policies),
        "data_quality": ev.data_quality(home, rows, findings["items"], model=model,
                                        since=since, until=until),
        "evidence": ev.evidence(home, policies=policies,
                                judged=gov.policies_judged(findings["items"]),
                                spec_sha256=registered.spec_sha256)}
    facts["compliance"] = assess(facts)
    facts["summary"] = summary(facts)
    return facts


def report_facts(home: Home, model: str, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None) -> dict[str, Any]:
    """Every fact of the report, read as one consistent snapshot: gathered again (up
    to 3 times) when the ledger moved while the sections were being read."""
    facts: dict[str, Any] = {}
    for _ in range(SNAPSHOT_TRIES):
        before = facts_ledger_head(home)
        facts = _gather(home, model, since, until)
        if facts_ledger_head(home) == before:
            break
    return facts


def report_bundle(facts: dict[str, Any], *, generated_at: dt.datetime,
                  export_id: str | None = None) -> dict[str, Any]:
    """The facts with what is not a fact: the generation time, the export id and the
    facts hash (the JSON report is exactly this)."""
    return {"schema_version": REPORT_SCHEMA_VERSION, "kind": REPORT_KIND,
            "generated_at": jsonable(generated_at), "export_id": export_id,
            "facts_sha256": facts_sha256(facts), "facts": facts}


def render_report(bundle: dict[str, Any], fmt: ReportFormat) -> bytes:
    """The bundle as report bytes in ``fmt``."""
    check_format(fmt, REPORT_FORMATS, UNKNOWN_REPORT_FORMAT)
    if fmt == "json":
        return (json.dumps(bundle, indent=2, ensure_ascii=False, allow_nan=False)
                + "\n").encode("utf-8")
    from raigov.reports.render_html import render_report_html

    html = render_report_html(bundle)
    if fmt == "html":
        return html.encode("utf-8")
    from raigov.reports.pdf import html_to_pdf

    return html_to_pdf(html, bundle)


def build_report(home: Home, model: str, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, fmt: ReportFormat = "html") -> bytes:
    """The audit report of ``model`` over [since, until) as HTML, PDF or JSON bytes
    (not exported: no ledger event; see :func:`raigov.reports.export.export_report`)."""
    check_format(fmt, REPORT_FORMATS, UNKNOWN_REPORT_FORMAT)
    bundle = report_bundle(report_facts(home, model, since=since, until=until),
                           generated_at=utcnow())
    return render_report(bundle, fmt)
