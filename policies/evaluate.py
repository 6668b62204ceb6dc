"""Evaluate policies on one model's metric rows for one window: rules x rows -> findings.

Never a silent pass. Each rule yields at least one finding per target segment, and
each finding is ``pass``, ``fail``, ``insufficient_data``, ``waived`` or ``error``
with a reason a person can read:

- no row at all for the rule's metric -> ``insufficient_data`` (not computed in this
  window: labels not arrived yet, family not run, too few rows);
- rows for the metric but none for the rule's segment -> ``error`` (most often a
  misnamed attribute or segment; the reason lists the segments there are);
- two rows for one metric and segment -> ``error`` (ambiguous);
- a row with status ``error`` -> ``error``; status ``insufficient_data`` -> the same;
- status ``ok`` but no finite value (None, NaN, inf) -> ``error``;
- ``min_samples`` set and a group (or the row) smaller, or its size unknown ->
  ``insufficient_data`` (groups the monitor already left out of the value, marked
  ``status: insufficient_data`` in ``details["groups"]``, do not count; the reason
  lists them as left out);
- otherwise the rule type judges it (pass / fail; ``ci_bound`` without the bound ->
  ``insufficient_data``); then the policy's waivers apply (see ``raigov.policies.waivers``).

``sensitive: "*"`` expands to one finding per sensitive attribute: the model's
declared attributes when ``sensitive=`` is given (a declared one without rows is then
reported, not skipped), else every single attribute the window's rows carry for
that metric. ``segment: "*"`` expands to every segment the rows carry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from raigov.monitors.base import MetricRow
from raigov.policies.findings import Finding, FindingStatus
from raigov.policies.rules import EVERY, ReferenceLookup, Rule, Verdict, is_finite_number
from raigov.policies.schema import Policy
from raigov.policies.waivers import apply_waivers
from raigov.canonical import utcnow
from raigov.errors import did_you_mean

NO_ROWS = ("No metric row for {metric} [{segment}] in this window: not computed (labels "
           "not arrived yet, monitor not run, or too few rows)")
NO_ATTRIBUTE_ROWS = ("No metric row for {metric} on any sensitive attribute in this window "
                     "(sensitive: '*' found none)")
NO_SEGMENT = ("No metric row for {metric} [{segment}], though the window has it for "
              "{available}: check the rule's sensitive attribute or segment.{hint}")
AMBIGUOUS = "{count} metric rows for {metric} [{segment}] in one window; expected one"
ROW_ERROR = "The monitor reported an error for {metric} [{segment}]: {detail}"
ROW_INSUFFICIENT = "The monitor had too little data for {metric} [{segment}]: {detail}"
NOT_A_NUMBER = ("{metric} [{segment}] has status 'ok' but no finite value ({value}); "
                "NaN is never a pass")
SMALL_GROUP = ("{metric} [{segment}]: group '{group}' has {n} samples, fewer than "
               "min_samples {min_samples}")
SMALL_ROW = "{metric} [{segment}]: {n} samples, fewer than min_samples {min_samples}"
UNKNOWN_SIZE = ("{metric} [{segment}]: min_samples {min_samples} is set but the sample size "
                "of {what} is unknown")
RULE_CRASHED = "Rule type '{type}' raised {error} while judging {metric} [{segment}]"
NO_DETAIL = "no detail given"
#: A group whose ``status`` is this was left out of the row's value by the monitor
#: (too few rows): it does not count against ``min_samples``; the reason names it.
LEFT_OUT = "insufficient_data"
MAX_GROUPS_SHOWN = 8


@dataclass(frozen=True)
class _Window:
    model: str
    version: int | None
    start: dt.datetime | None
    end: dt.datetime | None
    today: dt.date
    reference: ReferenceLookup | None = None


class _Rows:
    """Metric rows by metric; segments match regardless of the order of ``&`` parts."""

    def __init__(self, rows: Iterable[MetricRow]) -> None:
        self.by_metric: dict[str, list[MetricRow]] = defaultdict(list)
        for row in rows:
            self.by_metric[row.metric].append(row)

    def segments(self, metric: str) -> list[str]:
        return list(dict.fromkeys(r.segment for r in self.by_metric.get(metric, [])))

    def find(self, metric: str, segment: str) -> list[MetricRow]:
        key = _segment_key(segment)
        return [r for r in self.by_metric.get(metric, []) if _segment_key(r.segment) == key]


def evaluate(policies: Sequence[Policy], metric_rows: Iterable[MetricRow], *, model: str,
             version: int | None, window_start: dt.datetime | None,
             window_end: dt.datetime | None, today: dt.date | None = None,
             sensitive: Sequence[str] | None = None,
             reference: ReferenceLookup | None = None) -> list[Finding]:
    """Judge every rule of every policy on ``metric_rows``. ``today`` (default: the UTC
    date) decides which waivers are in force; ``sensitive`` (the model's declared
    attributes) is what ``sensitive: "*"`` expands to; ``reference`` gives rules that
    judge against the reference (``reference_band``) the values over its chunks.
    Policies are not filtered by ``applies_to`` here: see
    :func:`raigov.policies.schema.select_policies`."""
    rows = _Rows(metric_rows)
    window = _Window(model, version, window_start, window_end, today or utcnow().date(),
                     reference)
    findings: list[Finding] = []
    for policy in policies:
        for rule in policy.rules:
            for segment in _targets(rule, rows, sensitive):
                finding = _judge_target(policy, rule, segment, rows, window)
                findings.append(apply_waivers(finding, policy.waivers, today=window.today))
    return findings


def _targets(rule: Rule, rows: _Rows, declared: Sequence[str] | None) -> list[str]:
    if rule.sensitive == (EVERY,):
        if declared is not None:
            return list(declared) or [EVERY]
        seen = [s for s in rows.segments(rule.metric) if _is_attribute(s)]
        return seen or [EVERY]
    if rule.sensitive:
        return ["&".join(rule.sensitive)]
    if rule.segment == EVERY:
        return rows.segments(rule.metric) or [EVERY]
    return [rule.segment or "all"]


def _judge_target(policy: Policy, rule: Rule, segment: str, rows: _Rows,
                  window: _Window) -> Finding:
    found = _find_row(rule, segment, rows)
    if not isinstance(found, MetricRow):
        return _finding(policy, rule, segment, window, found[0], found[1])
    row = found
    early = _precheck(rule, segment, row)
    if early is not None:
        return _finding(policy, rule, segment, window, early[0], early[1], row=row)
    try:
        verdict = rule.judge_with(row, segment=segment, reference=window.reference)
    except Exception as exc:  # a broken rule type is an error finding, not a crash
        reason = RULE_CRASHED.format(type=rule.type, error=repr(exc), metric=rule.metric,
                                     segment=segment)
        return _finding(policy, rule, segment, window, "error", reason, row=row)
    reason = verdict.reason + _groups_text(_groups(row))
    return _finding(policy, rule, segment, window, verdict.status, reason, row=row,
                    verdict=verdict)


def _find_row(rule: Rule, segment: str, rows: _Rows) -> MetricRow | tuple[FindingStatus, str]:
    if segment == EVERY:
        template = NO_ATTRIBUTE_ROWS if rule.sensitive else NO_ROWS
        return "insufficient_data", template.format(metric=rule.metric, segment=segment)
    matches = rows.find(rule.metric, segment)
    if len(matches) == 1:
        return matches[0]
    if matches:
        return "error", AMBIGUOUS.format(count=len(matches), metric=rule.metric, segment=segment)
    available = rows.segments(rule.metric)
    if not available:
        return "insufficient_data", NO_ROWS.format(metric=rule.metric, segment=segment)
    return "error", NO_SEGMENT.format(metric=rule.metric, segment=segment,
                                      available=", ".join(f"'{s}'" for s in available),
                                      hint=did_you_mean(segment, available))


def _precheck(rule: Rule, segment: str, row: MetricRow) -> tuple[FindingStatus, str] | None:
    where = {"metric": rule.metric, "segment": segment}
    detail = str(row.details.get("error") or row.details.get("reason") or NO_DETAIL)
    if row.status == "error":
        return "error", ROW_ERROR.format(**where, detail=detail)
    if row.status == "insufficient_data":
        return "insufficient_data", ROW_INSUFFICIENT.format(**where, detail=detail)
    if not is_finite_number(row.value):
        return "error", NOT_A_NUMBER.format(**where, value=row.value)
    if rule.min_samples is not None:
        return _check_sizes(rule.min_samples, row, where)
    return None


def _check_sizes(minimum: int, row: MetricRow,
                 where: dict[str, str]) -> tuple[FindingStatus, str] | None:
    groups = _groups(row)
    if not groups:
        if row.n is None:
            return "insufficient_data", UNKNOWN_SIZE.format(**where, min_samples=minimum,
                                                            what="the row")
        if row.n < minimum:
            return "insufficient_data", SMALL_ROW.format(**where, n=row.n, min_samples=minimum)
        return None
    for name, group in groups.items():
        if group.get("status") == LEFT_OUT:
            continue  # the monitor left it out of the value; the reason names it
        n = group.get("n")
        if n is None:
            return "insufficient_data", UNKNOWN_SIZE.format(**where, min_samples=minimum,
                                                            what=f"group '{name}'")
        if n < minimum:
            return "insufficient_data", SMALL_GROUP.format(**where, group=name, n=n,
                                                           min_samples=minimum)
    return None


def _finding(policy: Policy, rule: Rule, segment: str, window: _Window, status: FindingStatus,
             reason: str, *, row: MetricRow | None = None,
             verdict: Verdict | None = None) -> Finding:
    groups = _groups(row) if row is not None else {}
    return Finding(
        policy=policy.policy, policy_version=policy.version, policy_sha256=policy.sha256,
        rule_id=rule.id, metric=rule.metric, segment=segment, model=window.model,
        version=window.version, window_start=window.start, window_end=window.end,
        status=status, severity=rule.severity, reason=reason,
        observed=_number(row.value) if row is not None else None,
        judged=verdict.judged if verdict is not None else None,
        **{**rule.finding_fields(), **({"judge": verdict.judge} if verdict else {})},
        ci_low=_number(row.ci_low) if row is not None else None,
        ci_high=_number(row.ci_high) if row is not None else None,
        n=_size(row, groups), groups=groups, references=policy.references_for(rule))


def _groups(row: MetricRow) -> dict[str, dict[str, Any]]:
    """``details["groups"]`` as ``{group: {"value", "n", ...}}``. Accepted shapes:
    ``{group: {"value", "n", "status"}}`` (``value`` / ``n`` may be per-rate mappings,
    as for equalized odds: ``n`` becomes the smallest, the mapping is kept as
    ``n_by_rate``), ``{group: value}``, or a list of ``{"group", "value", "n"}``."""
    raw = row.details.get("groups") if row.details else None
    if isinstance(raw, list):
        raw = {str(g.get("group")): g for g in raw if isinstance(g, dict)}
    if not isinstance(raw, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        entry = dict(entry) if isinstance(entry, dict) else {"value": entry}
        entry.pop("group", None)
        size = entry.pop("size", entry.get("n"))
        if isinstance(size, dict):
            entry["n_by_rate"] = size
            sizes = [s for s in size.values() if is_finite_number(s)]
            size = min(sizes) if len(sizes) == len(size) and sizes else None
        value = entry.get("value")
        entry["value"] = ({k: _number(v) for k, v in value.items()}
                          if isinstance(value, dict) else _number(value))
        entry["n"] = int(size) if is_finite_number(size) else None
        out[str(name)] = entry
    return out


def _groups_text(groups: dict[str, dict[str, Any]]) -> str:
    if not groups:
        return ""
    shown = []
    for name, g in list(groups.items())[:MAX_GROUPS_SHOWN]:
        value = g["value"]
        text = (" / ".join(f"{k} {_fmt(v)}" for k, v in value.items())
                if isinstance(value, dict) else _fmt(value))
        size = g["n"] if g["n"] is not None else "?"
        left_out = ", left out: too few rows" if g.get("status") == LEFT_OUT else ""
        shown.append(f"{name} {text} (n={size}{left_out})")
    more = len(groups) - MAX_GROUPS_SHOWN
    return "; groups: " + ", ".join(shown) + (f", and {more} more" if more > 0 else "")


def _size(row: MetricRow | None, groups: dict[str, dict[str, Any]]) -> int | None:
    if row is None:
        return None
    if row.n is not None:
        return row.n
    sizes = [g["n"] for g in groups.values()]
    return sum(sizes) if sizes and None not in sizes else None


def _number(value: Any) -> float | None:
    return float(value) if is_finite_number(value) else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _segment_key(segment: str) -> frozenset[str]:
    return frozenset(segment.split("&"))


def _is_attribute(segment: str) -> bool:
    return segment != "all" and "=" not in segment and "&" not in segment
