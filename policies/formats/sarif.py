"""SARIF 2.1.0: one result per finding that is not a pass, each pointing at the
policy file and the line of its rule; the rules in ``tool.driver.rules`` with help
text and references. Waived findings carry an accepted external suppression with
the waiver; insufficient data is ``kind: open`` (not decided) unless
fail-on-insufficient makes it a failure; a monitor error is an ``error``-level
failure."""

from __future__ import annotations

import json
from typing import Any, Sequence

from raigov.policies.findings import Finding
from raigov.policies.formats import register_format
from raigov.policies.formats.common import (PolicyLookup, artifact_uri, expectation, finding_dict,
                                     waiver_text)
from raigov.policies.formats.outcome import tally
from raigov.policies.rules import Rule
from raigov.policies.schema import Policy
from raigov.canonical import sha256_hex

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
TOOL_NAME = "raigov"
LEVELS = {"critical": "error", "warning": "warning", "info": "note"}
SHORT = "{metric} {expectation}"
HELP = "{description}\n\nExpected: {metric} {expectation} (severity {severity}).{refs}"
HELP_REFS = "\n\nReferences:\n{lines}"
MESSAGE = "[{status}] {model}: {reason}"


@register_format("sarif")
def render_sarif(findings: Sequence[Finding], *, policies: Sequence[Policy],
                 fail_on_insufficient: bool = False) -> str:
    return json.dumps(sarif_log(findings, policies=policies,
                                fail_on_insufficient=fail_on_insufficient),
                      indent=2, ensure_ascii=False, allow_nan=False)


def sarif_log(findings: Sequence[Finding], *, policies: Sequence[Policy],
              fail_on_insufficient: bool = False) -> dict[str, Any]:
    """The SARIF log as a dictionary."""
    lookup = PolicyLookup(policies)
    descriptors = [_descriptor(p, r) for p in policies for r in p.rules]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    results = [_result(f, lookup, index, fail_on_insufficient)
               for f in findings if f.status != "pass"]
    driver = {"name": TOOL_NAME, "rules": descriptors}
    run = {"tool": {"driver": driver}, "results": results,
           "invocations": [{"executionSuccessful": True}],
           "properties": {"counts": tally(findings).as_dict(),
                          "failOnInsufficient": fail_on_insufficient}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rule_id(policy: str, rule_id: str) -> str:
    return f"{policy}/{rule_id}"


def _descriptor(policy: Policy, rule: Rule) -> dict[str, Any]:
    refs = policy.references_for(rule)
    listed = HELP_REFS.format(lines="\n".join(f"- {r}" for r in refs)) if refs else ""
    text = HELP.format(description=rule.description or policy.description or rule.id,
                       metric=rule.metric, expectation=rule.expectation(),
                       severity=rule.severity, refs=listed)
    return {
        "id": _rule_id(policy.policy, rule.id), "name": rule.id,
        "shortDescription": {"text": SHORT.format(metric=rule.metric,
                                                  expectation=rule.expectation())},
        "fullDescription": {"text": rule.description or policy.description or rule.id},
        "help": {"text": text, "markdown": text},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["responsible-ai", rule.metric.split(".", 1)[0]],
                       "references": list(refs), "policy": policy.policy,
                       "policyVersion": policy.version, "policySha256": policy.sha256,
                       "ruleType": rule.type},
    }


def _result(finding: Finding, lookup: PolicyLookup, index: dict[str, int],
            fail_on_insufficient: bool) -> dict[str, Any]:
    rule_id = _rule_id(finding.policy, finding.rule_id)
    kind, level = _kind_level(finding, fail_on_insufficient)
    result: dict[str, Any] = {
        "ruleId": rule_id, "kind": kind, "level": level,
        "message": {"text": MESSAGE.format(status=finding.status, model=finding.model,
                                           reason=finding.reason)},
        "partialFingerprints": {"raigovFinding/v1": sha256_hex(
            "|".join((finding.policy, finding.rule_id, finding.segment, finding.model)))},
        "properties": {**finding_dict(finding), "expectation": expectation(finding, lookup)},
    }
    if rule_id in index:
        result["ruleIndex"] = index[rule_id]
    location = _location(finding, lookup)
    if location is not None:
        result["locations"] = [location]
    if finding.status == "waived":
        waiver = finding.waiver or {}
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": waiver_text(finding),
                                   "properties": dict(waiver)}]
    return result


def _kind_level(finding: Finding, fail_on_insufficient: bool) -> tuple[str, str]:
    if finding.status == "error":
        return "fail", "error"
    if finding.status == "insufficient_data" and not fail_on_insufficient:
        return "open", "none"
    return "fail", LEVELS[finding.severity]


def _location(finding: Finding, lookup: PolicyLookup) -> dict[str, Any] | None:
    policy, line = lookup.policy(finding), lookup.line(finding)
    uri = artifact_uri(policy.path) if policy is not None else None
    if uri is None:
        return None
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if line is not None:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical,
            "logicalLocations": [{"name": finding.segment, "kind": "object",
                                  "fullyQualifiedName": f"{finding.model}/{finding.segment}"}]}
