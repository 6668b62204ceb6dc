"""Markdown fit for a GitHub job summary (``$GITHUB_STEP_SUMMARY``): the verdict and
counts, a loud line for insufficient data, a table of what needs attention, the
passes folded away, and the policies with their hashes."""

from __future__ import annotations

from typing import Sequence

from raigov.policies.findings import Finding
from raigov.policies.formats import register_format
from raigov.policies.formats.common import PolicyLookup, expectation, number, waived_message
from raigov.policies.formats.outcome import (STATUS_LABELS, display_order, exit_code, headline,
                                      insufficient_warning)
from raigov.policies.schema import Policy

TITLE = "## {icon} raigov policy-check: {verdict}"
ICONS = {"pass": "✅", "fail": "❌", "error": "💥", "waived": "🔕",
         "insufficient_data": "⚠️"}
HEADER = ("| Status | Severity | Policy | Rule | Model | Segment | Observed | Judged "
          "| Expected | Reason |")
DIVIDER = "|---|---|---|---|---|---|---:|---:|---|---|"
PASSED_FOLD = "<details><summary>{count} passed</summary>\n\n{table}\n\n</details>"
POLICIES_HEADER = "### Policies\n\n| Policy | Version | SHA-256 | File |\n|---|---:|---|---|"


@register_format("markdown")
def render_markdown(findings: Sequence[Finding], *, policies: Sequence[Policy],
                    fail_on_insufficient: bool = False) -> str:
    options = {"fail_on_insufficient": fail_on_insufficient}
    lookup = PolicyLookup(policies)
    failed = exit_code(findings, **options)
    parts = [TITLE.format(icon=ICONS["fail"] if failed else ICONS["pass"],
                          verdict="FAILED" if failed else "PASSED"),
             f"**{headline(findings, **options)}**"]
    warning = insufficient_warning(findings, **options)
    if warning:
        parts.append(f"> {ICONS['insufficient_data']} **{warning}**")
    ordered = display_order(findings)
    attention = [f for f in ordered if f.status != "pass"]
    passed = [f for f in ordered if f.status == "pass"]
    if attention:
        parts.append(_table(attention, lookup))
    if passed:
        parts.append(PASSED_FOLD.format(count=len(passed), table=_table(passed, lookup)))
    parts.append(_policies(policies))
    return "\n\n".join(parts) + "\n"


def _table(findings: list[Finding], lookup: PolicyLookup) -> str:
    rows = [HEADER, DIVIDER]
    for f in findings:
        reason = waived_message(f) if f.status == "waived" else f.reason
        cells = [f"{ICONS[f.status]} {STATUS_LABELS[f.status]}", f.severity, f.policy,
                 f.rule_id, f.model, f.segment, number(f.observed), number(f.judged),
                 expectation(f, lookup), reason]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def _policies(policies: Sequence[Policy]) -> str:
    rows = [POLICIES_HEADER]
    for p in policies:
        rows.append("| " + " | ".join(_cell(c) for c in (
            p.policy, str(p.version), f"`{p.sha256[:12]}`", p.path)) + " |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
