"""Exporting a report records it in the ledger; verification accepts the exported bytes
and rejects anything else, naming why. The same evidence gives the same facts hash."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from raigov.policies import alerts as al
from raigov.reports import locate, verify
from raigov.reports.audit import build_report
from raigov.reports.export import ACTOR_REQUIRED, PERIOD_EMPTY, export_report
from raigov.reports.formatting import format_value
from raigov.store.catalog import catalog
from raigov.errors import InputError
from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.ledger.verify import audit_verify
from tests.reports.report_helpers import catalog_figure

MODEL = "income-classifier"


def export(home: Home, path: Path, fmt: str = "html", **kw: object):
    return export_report(home, MODEL, fmt=fmt, output=path, actor="auditor-1", **kw)  # type: ignore[arg-type]


def test_export_writes_the_report_and_a_report_exported_ledger_event(
        module_home: Home, tmp_path: Path) -> None:
    result = export(module_home, tmp_path / "out" / "report.json", fmt="json")
    data = result.path.read_bytes()
    assert json.loads(data)["export_id"] == result.export_id
    with catalog(module_home, read_only=True) as con:
        [event] = [e for e in read_events(con, kind="report.exported")
                   if e.payload["export_id"] == result.export_id]
    assert event.seq == result.ledger_seq and event.actor == "auditor-1"
    assert event.subject == MODEL
    payload = event.payload
    assert (payload["report_sha256"], payload["facts_sha256"], payload["format"]) == (
        result.sha256, result.facts_sha256, "json")
    assert (payload["model"], payload["since"], payload["until"]) == (MODEL, None, None)
    assert audit_verify(module_home).ok
    assert not list(result.path.parent.glob(".*.tmp"))


@pytest.mark.parametrize("fmt", ["html", "json"])
def test_verify_accepts_an_exported_report(module_home: Home, tmp_path: Path,
                                           fmt: str) -> None:
    result = export(module_home, tmp_path / f"report.{fmt}", fmt=fmt)
    verdict = verify.verify_report(module_home, result.path)
    assert verdict.ok and verdict.sha256 == result.sha256
    assert verdict.event is not None and verdict.event.seq == result.ledger_seq
    assert verdict.reason.startswith(f"{result.path}: accepted.")


def test_verify_rejects_an_html_report_whose_figure_was_edited_naming_the_line(
        module_home: Home, tmp_path: Path) -> None:
    result = export(module_home, tmp_path / "report.html")
    figure = format_value(catalog_figure(module_home, MODEL, "performance.accuracy").value)
    html = result.path.read_text()
    assert figure in html
    edited = tmp_path / "edited.html"
    edited.write_text(html.replace(figure, "0.9999", 1))
    verdict = verify.verify_report(module_home, edited)
    assert not verdict.ok
    assert verdict.reason == verify.CHANGED.format(
        path=edited, seq=result.ledger_seq, expected=result.sha256,
        export_id=result.export_id, fmt="html", model=MODEL, actor="auditor-1",
        at=verdict.event.at, actual=verdict.sha256)
    assert verdict.changes and verdict.changes[0].startswith("line ")
    assert "0.9999" in verdict.changes[0] and figure in verdict.changes[0]


def test_verify_rejects_a_json_report_whose_facts_were_edited_naming_the_value(
        module_home: Home, tmp_path: Path) -> None:
    result = export(module_home, tmp_path / "report.json", fmt="json")
    bundle = json.loads(result.path.read_text())
    fact = bundle["facts"]["card"]["quantitative_analyses"]["performance"]["metrics"][0]
    original, fact["value"] = fact["value"], 0.99
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(bundle, indent=2))
    verdict = verify.verify_report(module_home, edited)
    assert not verdict.ok and "changed after it was exported" in verdict.reason
    assert "figures in the facts were edited" in verdict.changes[0]
    assert verdict.changes[1] == locate.FACT_CHANGED.format(
        path="facts.card.quantitative_analyses.performance.metrics[0].value",
        actual="0.99", expected=json.dumps(original))


def test_verify_rejects_a_report_that_was_never_exported(module_home: Home,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "unexported.html"
    path.write_bytes(build_report(module_home, MODEL, fmt="html"))
    verdict = verify.verify_report(module_home, path)
    assert not verdict.ok
    assert verdict.reason == verify.NOT_EXPORTED.format(path=path, sha=verdict.sha256,
                                                        home=module_home.root)


def test_verify_rejects_every_report_while_the_ledger_fails_verification(
        seeded_home: Home, tmp_path: Path) -> None:
    result = export(seeded_home, tmp_path / "report.json", fmt="json")
    con = duckdb.connect(str(seeded_home.catalog_path))
    con.execute("UPDATE ledger SET actor = 'mallory' WHERE seq = 3")
    con.close()
    verdict = verify.verify_report(seeded_home, result.path)
    assert not verdict.ok
    assert verdict.reason.startswith(f"{result.path}: rejected. The ledger it would be "
                                     "checked against fails verification: event 3")


def test_two_exports_over_the_same_evidence_have_the_same_facts_hash(
        module_home: Home, tmp_path: Path) -> None:
    first = export(module_home, tmp_path / "a.json", fmt="json")
    second = export(module_home, tmp_path / "b.html", fmt="html")
    assert first.facts_sha256 == second.facts_sha256
    assert first.sha256 != second.sha256 and first.export_id != second.export_id
    alert = next(a for a in al.list_alerts(module_home, model=MODEL) if a.status == "open")
    al.acknowledge_alert(module_home, alert.alert_id, actor="carol", comment="on it",
                         notify_webhook=False)
    third = export(module_home, tmp_path / "c.json", fmt="json")
    assert third.facts_sha256 != first.facts_sha256


def test_bad_export_input_is_refused_with_its_message(module_home: Home,
                                                      tmp_path: Path) -> None:
    import datetime as dt

    day = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    with pytest.raises(InputError) as excinfo:
        export(module_home, tmp_path / "r.json", fmt="json", since=day, until=day)
    assert str(excinfo.value) == PERIOD_EMPTY.format(since=day.isoformat(),
                                                     until=day.isoformat())
    with pytest.raises(InputError, match=ACTOR_REQUIRED):
        export_report(module_home, MODEL, fmt="json", output=tmp_path / "r.json", actor=" ")
    with pytest.raises(InputError, match="not found"):
        verify.verify_report(module_home, tmp_path / "missing.html")
