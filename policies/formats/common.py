"""Small helpers the formats share: finding -> policy, rule, line and text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

from raigov.policies.findings import Finding
from raigov.policies.rules import Rule
from raigov.policies.schema import Policy

WAIVER_TEXT = "waived until {expires} by {approved_by}: {reason}"


class PolicyLookup:
    """Find the policy and rule a finding came from (by name and hash)."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)
        self._by_key = {(p.policy, p.sha256): p for p in policies}
        self._by_name = {p.policy: p for p in policies}

    def policy(self, finding: Finding) -> Policy | None:
        return (self._by_key.get((finding.policy, finding.policy_sha256))
                or self._by_name.get(finding.policy))

    def rule(self, finding: Finding) -> Rule | None:
        policy = self.policy(finding)
        try:
            return policy.rule(finding.rule_id) if policy else None
        except KeyError:
            return None

    def line(self, finding: Finding) -> int | None:
        policy = self.policy(finding)
        return policy.rule_line(finding.rule_id) if policy else None


def expectation(finding: Finding, lookup: PolicyLookup) -> str:
    rule = lookup.rule(finding)
    if rule is not None:
        return rule.expectation()
    if finding.threshold is not None:
        return f"{finding.op} {finding.threshold:g}"
    return finding.op or ""


def number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def waiver_text(finding: Finding) -> str:
    waiver = finding.waiver or {}
    return WAIVER_TEXT.format(expires=waiver.get("expires"), approved_by=waiver.get("approved_by"),
                              reason=waiver.get("reason"))


def waived_message(finding: Finding) -> str:
    """The reason of a waived finding, with the waiver named (once)."""
    waiver = finding.waiver or {}
    named = all(str(waiver.get(k)) in finding.reason for k in ("expires", "approved_by"))
    return finding.reason if named else f"{finding.reason}. {waiver_text(finding)}"


def artifact_uri(path: str) -> str | None:
    """A relative (to the working directory) or ``file:`` URI for a policy path."""
    if path.startswith("<"):
        return None
    target = Path(path)
    if target.is_absolute():
        try:
            return quote(target.resolve().relative_to(Path.cwd().resolve()).as_posix())
        except ValueError:
            return target.resolve().as_uri()
    return quote(target.as_posix())


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as JSON-ready data (dates ISO 8601, NaN as null)."""
    return {k: _jsonable(v) for k, v in dataclasses.asdict(finding).items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value
