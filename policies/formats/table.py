"""A readable table (rich): what needs attention first, insufficient data loud."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

from raigov.policies.findings import Finding
from raigov.policies.formats import register_format
from raigov.policies.formats.common import PolicyLookup, expectation, number
from raigov.policies.formats.outcome import (STATUS_LABELS, display_order, exit_code, headline,
                                      insufficient_warning)
from raigov.policies.schema import Policy

if TYPE_CHECKING:
    from rich.console import RenderableType

STYLES = {"pass": "green", "fail": "bold red", "error": "bold magenta",
          "insufficient_data": "bold yellow", "waived": "cyan"}
WIDTH = 160


@register_format("table")
def render_table(findings: Sequence[Finding], *, policies: Sequence[Policy],
                 fail_on_insufficient: bool = False) -> str:
    """The table as plain text (no colour codes)."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=WIDTH, color_system=None, force_terminal=False)
    for part in build_renderables(findings, policies=policies,
                                  fail_on_insufficient=fail_on_insufficient):
        console.print(part)
    return console.file.getvalue()  # type: ignore[attr-defined]


def build_renderables(findings: Sequence[Finding], *, policies: Sequence[Policy],
                      fail_on_insufficient: bool = False) -> list["RenderableType"]:
    """The table and its summary lines, for a rich console that shows colour."""
    from rich.table import Table
    from rich.text import Text

    lookup = PolicyLookup(policies)
    table = Table(title="raigov policy-check", show_lines=False, expand=False)
    for column in ("Status", "Sev.", "Policy", "Rule", "Model", "Segment", "Observed",
                   "Judged", "Expected", "Reason"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("Observed", "Judged") else "left")
    for f in display_order(findings):  # Text cells: '[sex]' is data, not rich markup
        cells = (f.severity, f.policy, f.rule_id, f.model, f.segment, number(f.observed),
                 number(f.judged), expectation(f, lookup), f.reason)
        table.add_row(Text(STATUS_LABELS[f.status], style=STYLES[f.status]),
                      *(Text(c) for c in cells))
    options = {"fail_on_insufficient": fail_on_insufficient}
    failed = exit_code(findings, **options)
    parts: list[RenderableType] = [table, Text(headline(findings, **options),
                                              style="bold red" if failed else "bold green")]
    warning = insufficient_warning(findings, **options)
    if warning:
        parts.append(Text(warning, style="bold yellow reverse"))
    return parts
