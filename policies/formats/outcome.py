"""Counting findings and the exit code of a policy check.

Exit code: 0 when every finding is ``pass`` or ``waived``; 1 when any is ``fail`` or
``error``. ``insufficient_data`` does not fail by default (a rule that could not be
judged is not a violation) but every format shows it loudly as not checked; with
``fail_on_insufficient=True`` (the CLI's ``--fail-on-insufficient``) it fails too.
No findings at all is 1: a gate that checked nothing has not passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from raigov.policies.findings import Finding

#: Display order: what needs attention first.
STATUS_ORDER = ("error", "fail", "insufficient_data", "waived", "pass")
STATUS_LABELS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "waived": "WAIVED",
                 "insufficient_data": "INSUFFICIENT DATA"}
SEVERITY_ORDER = ("critical", "warning", "info")

HEADLINE = ("{verdict}: {fail} failed, {error} errors, {insufficient_data} insufficient data, "
            "{waived} waived, {passed} passed ({total} findings)")
NOTHING_CHECKED = "FAILED: no rule was evaluated (does any policy apply to the model?)"
INSUFFICIENT_WARNING = ("{count} finding(s) had insufficient data: those rules were NOT "
                        "checked{consequence}.")
INSUFFICIENT_FAILS = " and fail this run (fail on insufficient data is on)"
INSUFFICIENT_PASSES = " (use --fail-on-insufficient to fail on them)"


@dataclass(frozen=True)
class Counts:
    """Findings by status; waived and insufficient are never counted as passes."""

    passed: int = 0
    fail: int = 0
    waived: int = 0
    insufficient_data: int = 0
    error: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.fail + self.waived + self.insufficient_data + self.error

    def as_dict(self) -> dict[str, int]:
        return {"pass": self.passed, "fail": self.fail, "waived": self.waived,
                "insufficient_data": self.insufficient_data, "error": self.error,
                "total": self.total}


def tally(findings: Sequence[Finding]) -> Counts:
    by = {s: sum(1 for f in findings if f.status == s) for s in STATUS_ORDER}
    return Counts(passed=by["pass"], fail=by["fail"], waived=by["waived"],
                  insufficient_data=by["insufficient_data"], error=by["error"])


def is_blocking(finding: Finding, *, fail_on_insufficient: bool = False) -> bool:
    """Whether this finding alone makes the check fail."""
    return finding.status in ("fail", "error") or (
        fail_on_insufficient and finding.status == "insufficient_data")


def exit_code(findings: Sequence[Finding], *, fail_on_insufficient: bool = False) -> int:
    """0 when the check passes, 1 when it fails (see the module docstring)."""
    if not findings:
        return 1
    return int(any(is_blocking(f, fail_on_insufficient=fail_on_insufficient) for f in findings))


def headline(findings: Sequence[Finding], *, fail_on_insufficient: bool = False) -> str:
    """One line: the verdict and the counts."""
    if not findings:
        return NOTHING_CHECKED
    counts = tally(findings)
    failed = exit_code(findings, fail_on_insufficient=fail_on_insufficient)
    return HEADLINE.format(verdict="FAILED" if failed else "PASSED",
                           **counts.as_dict() | {"passed": counts.passed})


def insufficient_warning(findings: Sequence[Finding], *,
                         fail_on_insufficient: bool = False) -> str | None:
    """The loud line about rules that were not checked, or None when there are none."""
    count = tally(findings).insufficient_data
    if not count:
        return None
    consequence = INSUFFICIENT_FAILS if fail_on_insufficient else INSUFFICIENT_PASSES
    return INSUFFICIENT_WARNING.format(count=count, consequence=consequence)


def display_order(findings: Sequence[Finding]) -> list[Finding]:
    """Findings sorted by what needs attention: status, then severity."""
    return sorted(findings, key=lambda f: (STATUS_ORDER.index(f.status),
                                           SEVERITY_ORDER.index(f.severity)))
