"""JUnit XML: one test suite per policy and model, one test case per finding (a rule
on one model and segment). Failures and errors carry the reason; waived findings
are skipped with the waiver in the message; insufficient data is skipped, or a
failure when fail-on-insufficient is on. Counts of waived and insufficient findings
are suite properties, so they stay apart from passes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Sequence

from raigov.policies.findings import Finding
from raigov.policies.formats import register_format
from raigov.policies.formats.common import PolicyLookup, expectation, number, waived_message
from raigov.policies.formats.outcome import STATUS_LABELS, tally
from raigov.policies.schema import Policy

SUITES_NAME = "raigov policy-check"
WAIVED_MESSAGE = "waived: {reason}"
INSUFFICIENT_MESSAGE = "insufficient data, not checked: {reason}"
DETAIL = ("status: {status}\nmetric: {metric} [{segment}]\nexpected: {expected}\n"
          "observed: {observed}\njudged ({judge}): {judged}\nn: {n}\nreason: {reason}")


@register_format("junit")
def render_junit(findings: Sequence[Finding], *, policies: Sequence[Policy],
                 fail_on_insufficient: bool = False) -> str:
    lookup = PolicyLookup(policies)
    root = ET.Element("testsuites", name=SUITES_NAME)
    suites: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        suites[(finding.policy, finding.model)].append(finding)
    for (policy, model), members in suites.items():
        root.append(_suite(policy, model, members, lookup, fail_on_insufficient))
    _count(root, list(root))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(policy: str, model: str, findings: list[Finding], lookup: PolicyLookup,
           fail_on_insufficient: bool) -> ET.Element:
    suite = ET.Element("testsuite", name=f"{policy} ({model})")
    props = ET.SubElement(suite, "properties")
    source = lookup.policy(findings[0])
    counts = tally(findings)
    for name, value in (("policy.version", findings[0].policy_version),
                        ("policy.sha256", findings[0].policy_sha256),
                        ("policy.path", source.path if source else ""),
                        ("raigov.waived", counts.waived),
                        ("raigov.insufficient_data", counts.insufficient_data)):
        ET.SubElement(props, "property", name=name, value=str(value))
    for finding in findings:
        suite.append(_case(finding, lookup, fail_on_insufficient))
    _count(suite, suite.findall("testcase"))
    return suite


def _case(finding: Finding, lookup: PolicyLookup, fail_on_insufficient: bool) -> ET.Element:
    case = ET.Element("testcase", classname=f"{finding.policy}.{finding.model}",
                      name=f"{finding.rule_id} [{finding.segment}]", time="0")
    source, line = lookup.policy(finding), lookup.line(finding)
    if source is not None and line is not None:
        case.set("file", source.path)
        case.set("line", str(line))
    detail = DETAIL.format(status=STATUS_LABELS[finding.status], metric=finding.metric,
                           segment=finding.segment, expected=expectation(finding, lookup),
                           observed=number(finding.observed), judge=finding.judge,
                           judged=number(finding.judged), n=finding.n, reason=finding.reason)
    if finding.status == "fail" or (finding.status == "insufficient_data" and fail_on_insufficient):
        ET.SubElement(case, "failure", message=finding.reason, type=finding.status).text = detail
    elif finding.status == "error":
        ET.SubElement(case, "error", message=finding.reason, type="error").text = detail
    elif finding.status == "waived":
        ET.SubElement(case, "skipped",
                      message=WAIVED_MESSAGE.format(reason=waived_message(finding)))
    elif finding.status == "insufficient_data":
        ET.SubElement(case, "skipped", message=INSUFFICIENT_MESSAGE.format(reason=finding.reason))
    ET.SubElement(case, "system-out").text = detail
    return case


def _count(element: ET.Element, children: list[ET.Element]) -> None:
    """Set tests/failures/errors/skipped from the children (suites or cases)."""
    def total(attr: str, tag: str) -> int:
        if element.tag == "testsuites":
            return sum(int(child.get(attr, "0")) for child in children)
        return sum(1 for child in children if child.find(tag) is not None)

    element.set("tests", str(total("tests", "") if element.tag == "testsuites" else len(children)))
    for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        element.set(attr, str(total(attr, tag)))
    element.set("time", "0")
