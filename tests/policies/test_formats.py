"""Output formats: JUnit parses with the right counts, SARIF validates against the
official 2.1.0 schema, waived and insufficient findings are never counted as passes,
and the exit code follows the documented rule."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from raigov.monitors.base import MetricRow
from raigov.policies.evaluate import evaluate
from raigov.policies.findings import Finding
from raigov.policies.formats import exit_code, render, tally
from raigov.policies.formats import outcome as oc
from raigov.policies.loader import load_policy
from raigov.policies.schema import Policy
from raigov.errors import ConfigError

SARIF_SCHEMA = Path(__file__).parent / "sarif-schema-2.1.0.json"
POLICY = """\
policy: lending
version: 2
description: Lending checks
applies_to: {tags: [demo]}
references: ["EU AI Act Art. 15"]
rules:
  - id: four-fifths
    metric: fairness.selection_rate_ratio
    sensitive: "*"
    op: ">="
    threshold: 0.8
    severity: critical
  - id: recall-floor
    metric: performance.recall
    op: ">="
    threshold: 0.6
  - id: accuracy-floor
    metric: performance.accuracy
    op: ">="
    threshold: 0.7
    severity: info
  - id: auc-floor
    metric: performance.roc_auc
    op: ">="
    threshold: 0.7
waivers:
  - rule: recall-floor
    reason: Label backlog after migration
    approved_by: risk-office
    expires: 2026-12-31
"""
# sex passes, race fails, recall waived, accuracy insufficient (no row), auc an error
ROWS = [
    MetricRow("fairness.selection_rate_ratio", 0.9, "sex", 0.85, 0.95, 400,
              details={"groups": {"Female": {"value": 0.36, "n": 150},
                                  "Male": {"value": 0.4, "n": 250}}}),
    MetricRow("fairness.selection_rate_ratio", 0.6, "race", 0.5, 0.7, 400),
    MetricRow("performance.recall", 0.5, n=300),
    MetricRow("performance.roc_auc", None, status="error", details={"error": "one class only"}),
]


@pytest.fixture
def policies(tmp_path: Path) -> list[Policy]:
    path = tmp_path / "lending.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return [load_policy(path)]


@pytest.fixture
def findings(policies: list[Policy]) -> list[Finding]:
    return evaluate(policies, ROWS, model="income", version=1,
                    window_start=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc),
                    window_end=dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc),
                    today=dt.date(2026, 3, 2))


def test_the_fixture_covers_every_status(findings: list[Finding]) -> None:
    assert tally(findings).as_dict() == {"pass": 1, "fail": 1, "waived": 1,
                                         "insufficient_data": 1, "error": 1, "total": 5}


def test_junit_parses_with_one_case_per_finding_and_the_right_counts(
        findings: list[Finding], policies: list[Policy]) -> None:
    root = ET.fromstring(render(findings, fmt="junit", policies=policies))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "lending (income)"
    cases = suite.findall("testcase")
    assert len(cases) == 5
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors"),
                element.get("skipped")) == ("5", "1", "1", "2")
    by_name = {c.get("name"): c for c in cases}
    failure = by_name["four-fifths [race]"].find("failure")
    assert failure is not None and "violates >= 0.8" in failure.get("message", "")
    assert by_name["four-fifths [race]"].get("line") == "7"
    waived = by_name["recall-floor [all]"].find("skipped")
    assert waived is not None and "Waived until 2026-12-31 by risk-office" in waived.get("message", "")
    insufficient = by_name["accuracy-floor [all]"].find("skipped")
    assert insufficient is not None and insufficient.get("message", "").startswith("insufficient data")
    assert by_name["auc-floor [all]"].find("error") is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["raigov.waived"] == "1" and props["raigov.insufficient_data"] == "1"
    assert props["policy.sha256"] == policies[0].sha256


def test_junit_turns_insufficient_data_into_a_failure_when_asked(
        findings: list[Finding], policies: list[Policy]) -> None:
    root = ET.fromstring(render(findings, fmt="junit", policies=policies,
                                fail_on_insufficient=True))
    assert (root.get("failures"), root.get("skipped")) == ("2", "1")


def sarif_errors(document: dict) -> list[str]:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    return [e.message for e in validator.iter_errors(document)]


def test_sarif_validates_against_the_official_schema(findings: list[Finding],
                                                     policies: list[Policy]) -> None:
    document = json.loads(render(findings, fmt="sarif", policies=policies))
    assert sarif_errors(document) == []
    assert document["version"] == "2.1.0"


def test_the_schema_check_catches_a_broken_sarif_log() -> None:
    assert sarif_errors({"version": "2.1.0", "runs": [{"tool": {}}]}) != []


def test_sarif_has_one_result_per_non_pass_finding_pointing_at_the_rule_line(
        findings: list[Finding], policies: list[Policy], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = json.loads(render(findings, fmt="sarif", policies=policies))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["lending/four-fifths", "lending/recall-floor",
                                        "lending/accuracy-floor", "lending/auc-floor"]
    assert "EU AI Act Art. 15" in rules[0]["help"]["text"]
    results = {r["ruleId"] + " " + r["properties"]["segment"]: r for r in run["results"]}
    assert len(results) == 4
    fail = results["lending/four-fifths race"]
    location = fail["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "lending.yaml"
    assert location["region"]["startLine"] == 7
    assert (fail["kind"], fail["level"]) == ("fail", "error")
    waived = results["lending/recall-floor all"]
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "risk-office" in waived["suppressions"][0]["justification"]
    assert (results["lending/accuracy-floor all"]["kind"],
            results["lending/accuracy-floor all"]["level"]) == ("open", "none")
    assert results["lending/auc-floor all"]["level"] == "error"
    assert run["properties"]["counts"]["waived"] == 1


def test_json_counts_every_status_apart_and_carries_hashes_and_groups(
        findings: list[Finding], policies: list[Policy]) -> None:
    data = json.loads(render(findings, fmt="json", policies=policies))
    assert data["counts"] == {"pass": 1, "fail": 1, "waived": 1, "insufficient_data": 1,
                              "error": 1, "total": 5}
    assert data["policies"][0]["sha256"] == policies[0].sha256
    assert data["outcome"]["exit_code"] == 1
    sex = next(f for f in data["findings"] if f["segment"] == "sex")
    assert sex["groups"]["Female"] == {"value": 0.36, "n": 150}
    assert sex["window_start"] == "2026-03-01T00:00:00+00:00"


def test_markdown_summary_shows_the_verdict_counts_and_insufficient_loudly(
        findings: list[Finding], policies: list[Policy]) -> None:
    text = render(findings, fmt="markdown", policies=policies)
    assert text.startswith("## ❌ raigov policy-check: FAILED")
    assert oc.headline(findings) in text
    assert oc.insufficient_warning(findings) in text
    assert "<details><summary>1 passed</summary>" in text
    assert policies[0].sha256[:12] in text


def test_the_table_shows_segments_and_insufficient_data_loudly(
        findings: list[Finding], policies: list[Policy]) -> None:
    text = render(findings, fmt="table", policies=policies)
    assert "INSUFFICIENT DATA" in text and "WAIVED" in text
    assert "[race]" in text  # segment text is data, not rich markup
    assert oc.insufficient_warning(findings) in text.replace("\n", " ")


def finding(status: str) -> Finding:
    return Finding(policy="p", policy_version=1, policy_sha256="", rule_id="r", metric="m",
                   segment="all", model="m", version=None, window_start=None, window_end=None,
                   status=status, severity="warning", reason="because")  # type: ignore[arg-type]


@pytest.mark.parametrize(("statuses", "strict", "expected"), [
    (["pass", "waived"], False, 0),
    (["pass", "insufficient_data"], False, 0),
    (["pass", "insufficient_data"], True, 1),
    (["pass", "fail"], False, 1),
    (["waived", "error"], False, 1),
    ([], False, 1),
])
def test_exit_code_is_zero_only_when_every_rule_passes_or_is_waived(
        statuses: list[str], strict: bool, expected: int) -> None:
    findings = [finding(s) for s in statuses]
    assert exit_code(findings, fail_on_insufficient=strict) == expected


def test_an_unknown_format_suggests_the_close_one(findings: list[Finding],
                                                  policies: list[Policy]) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'sarif'"):
        render(findings, fmt="sarf", policies=policies)
