"""JSON: every finding with its per-group values, the policies with their hashes, and
the counts (pass, fail, waived, insufficient data and error counted apart)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from raigov.policies.findings import Finding
from raigov.policies.formats import register_format
from raigov.policies.formats.common import finding_dict
from raigov.policies.formats.outcome import exit_code, headline, insufficient_warning, tally
from raigov.policies.schema import Policy

FORMAT_ID = "raigov.policy-check/1"


@register_format("json")
def render_json(findings: Sequence[Finding], *, policies: Sequence[Policy],
                fail_on_insufficient: bool = False) -> str:
    return json.dumps(report_data(findings, policies=policies,
                                  fail_on_insufficient=fail_on_insufficient),
                      indent=2, ensure_ascii=False, allow_nan=False)


def report_data(findings: Sequence[Finding], *, policies: Sequence[Policy],
                fail_on_insufficient: bool = False) -> dict[str, Any]:
    """The JSON report as a dictionary."""
    options = {"fail_on_insufficient": fail_on_insufficient}
    return {
        "format": FORMAT_ID,
        "outcome": {"exit_code": exit_code(findings, **options),
                    "headline": headline(findings, **options),
                    "insufficient_warning": insufficient_warning(findings, **options),
                    **options},
        "counts": tally(findings).as_dict(),
        "policies": [_policy_data(p) for p in policies],
        "findings": [finding_dict(f) for f in findings],
    }


def _policy_data(policy: Policy) -> dict[str, Any]:
    return {"policy": policy.policy, "version": policy.version, "sha256": policy.sha256,
            "path": policy.path, "description": policy.description,
            "applies_to": policy.applies_to.model_dump(mode="json"),
            "references": list(policy.references),
            "rules": {rule.id: {"line": policy.rule_line(rule.id), "type": rule.type,
                                "metric": rule.metric, "expectation": rule.expectation(),
                                "severity": rule.severity}
                      for rule in policy.rules}}
