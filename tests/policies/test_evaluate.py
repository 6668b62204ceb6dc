"""Evaluating policies on metric rows: never a silent pass."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pytest

from raigov.monitors.base import MetricRow
from raigov.policies import evaluate as ev
from raigov.policies import waivers as wv
from raigov.policies.evaluate import evaluate
from raigov.policies.findings import Finding
from raigov.policies.rules import RULE_TYPES, Rule, Verdict, register_rule_type
from raigov.policies.schema import AppliesTo, Policy, Waiver

START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
TODAY = dt.date(2026, 3, 2)


def policy(*rules: dict[str, Any], waivers: tuple[Waiver, ...] = ()) -> Policy:
    typed = tuple(RULE_TYPES[r.get("type", "threshold")].model_validate(r) for r in rules)
    return Policy(policy="p", version=1, applies_to=AppliesTo(tags=("demo",)), rules=typed,
                  waivers=waivers, sha256="ab" * 32, references=("EU AI Act Art. 15",))


def recall_rule(**extra: Any) -> dict[str, Any]:
    return {"id": "recall-floor", "metric": "performance.recall", "op": ">=", "threshold": 0.6,
            **extra}


def ratio_rule(**extra: Any) -> dict[str, Any]:
    return {"id": "four-fifths", "metric": "fairness.selection_rate_ratio", "op": ">=",
            "threshold": 0.8, "sensitive": "sex", "severity": "critical", **extra}


def groups(female: float, male: float, *, n_female: int = 120, n_male: int = 300) -> dict[str, Any]:
    return {"groups": {"Female": {"value": female, "n": n_female, "status": "ok"},
                       "Male": {"value": male, "n": n_male, "status": "ok"}}}


def run(p: Policy, rows: list[MetricRow], *, today: dt.date = TODAY,
        sensitive: tuple[str, ...] | None = None) -> list[Finding]:
    return evaluate([p], rows, model="income", version=2, window_start=START, window_end=END,
                    today=today, sensitive=sensitive)


def one(p: Policy, rows: list[MetricRow], **kwargs: Any) -> Finding:
    findings = run(p, rows, **kwargs)
    assert len(findings) == 1, findings
    return findings[0]


def test_a_value_meeting_the_threshold_passes_with_a_reason() -> None:
    finding = one(policy(recall_rule()), [MetricRow("performance.recall", 0.7, n=400)])
    assert finding.status == "pass"
    assert finding.reason == "performance.recall [all] = 0.7 (point estimate) meets >= 0.6"
    assert (finding.observed, finding.judged, finding.op, finding.threshold) == (0.7, 0.7, ">=", 0.6)
    assert (finding.model, finding.version, finding.window_start) == ("income", 2, START)
    assert finding.policy_sha256 == "ab" * 32 and finding.references == ("EU AI Act Art. 15",)


def test_a_value_crossing_the_threshold_fails() -> None:
    finding = one(policy(recall_rule()), [MetricRow("performance.recall", 0.55, n=400)])
    assert finding.status == "fail"
    assert finding.reason == "performance.recall [all] = 0.55 (point estimate) violates >= 0.6"


def test_a_missing_metric_row_is_insufficient_data_with_a_reason() -> None:
    finding = one(policy(recall_rule()), [])
    assert finding.status == "insufficient_data"
    assert finding.reason == ev.NO_ROWS.format(metric="performance.recall", segment="all")


def test_a_metric_row_with_status_error_is_an_error() -> None:
    row = MetricRow("performance.recall", None, status="error", details={"error": "boom"})
    finding = one(policy(recall_rule()), [row])
    assert finding.status == "error"
    assert finding.reason == ev.ROW_ERROR.format(metric="performance.recall", segment="all",
                                                 detail="boom")


def test_a_metric_row_with_too_little_data_is_insufficient() -> None:
    row = MetricRow("performance.recall", None, status="insufficient_data",
                    details={"reason": "12 labelled rows, fewer than 30"})
    finding = one(policy(recall_rule()), [row])
    assert finding.status == "insufficient_data"
    assert "12 labelled rows, fewer than 30" in finding.reason


@pytest.mark.parametrize("value", [float("nan"), None, float("inf")])
def test_nan_none_or_inf_is_never_a_pass(value: float | None) -> None:
    for rule in (recall_rule(), recall_rule(op="<=", threshold=2.0), recall_rule(op="!=")):
        finding = one(policy(rule), [MetricRow("performance.recall", value, n=400)])
        assert finding.status == "error"
        assert finding.reason == ev.NOT_A_NUMBER.format(metric="performance.recall",
                                                        segment="all", value=value)


def test_ci_bound_judges_the_lower_bound_for_greater_or_equal() -> None:
    row = MetricRow("performance.recall", 0.65, ci_low=0.58, ci_high=0.72, n=400)
    point = one(policy(recall_rule()), [row])
    bound = one(policy(recall_rule(judge="ci_bound")), [row])
    assert (point.status, point.judged, point.judge) == ("pass", 0.65, "point")
    assert (bound.status, bound.judged, bound.judge) == ("fail", 0.58, "ci_bound")
    assert bound.observed == 0.65 and (bound.ci_low, bound.ci_high) == (0.58, 0.72)
    assert "(lower CI bound) violates >= 0.6" in bound.reason


def test_ci_bound_judges_the_upper_bound_for_less_or_equal() -> None:
    rule = {"id": "eo", "metric": "fairness.equalized_odds_difference", "op": "<=",
            "threshold": 0.1, "sensitive": "sex", "judge": "ci_bound"}
    row = MetricRow("fairness.equalized_odds_difference", 0.08, "sex", 0.03, 0.13, 420)
    finding = one(policy(rule), [row])
    assert (finding.status, finding.judged) == ("fail", 0.13)


def test_ci_bound_without_an_interval_is_insufficient_not_a_pass() -> None:
    finding = one(policy(recall_rule(judge="ci_bound")), [MetricRow("performance.recall", 0.9)])
    assert finding.status == "insufficient_data"
    assert finding.reason == _reason_no_bound("lower CI bound")


def _reason_no_bound(bound: str) -> str:
    from raigov.policies.rules import NO_BOUND_REASON

    return NO_BOUND_REASON.format(metric="performance.recall", segment="all", bound=bound)


def test_group_values_and_sizes_are_carried_into_the_finding() -> None:
    row = MetricRow("fairness.selection_rate_ratio", 0.72, "sex", 0.6, 0.85, 420,
                    details=groups(0.31, 0.43))
    finding = one(policy(ratio_rule()), [row])
    assert finding.status == "fail" and finding.segment == "sex" and finding.n == 420
    assert finding.groups["Female"]["value"] == 0.31 and finding.groups["Female"]["n"] == 120
    assert finding.groups["Male"]["n"] == 300
    assert finding.reason.endswith("; groups: Female 0.31 (n=120), Male 0.43 (n=300)")


def test_per_rate_group_sizes_use_the_smallest_for_min_samples() -> None:
    details = {"groups": {"Female": {"value": {"true_positive_rate": 0.7, "false_positive_rate": 0.1},
                                     "n": {"true_positive_rate": 20, "false_positive_rate": 200}},
                          "Male": {"value": {"true_positive_rate": 0.75, "false_positive_rate": 0.12},
                                   "n": {"true_positive_rate": 90, "false_positive_rate": 400}}}}
    rule = {"id": "eo", "metric": "fairness.equalized_odds_difference", "op": "<=",
            "threshold": 0.1, "sensitive": "sex", "min_samples": 30}
    row = MetricRow("fairness.equalized_odds_difference", 0.05, "sex", details=details)
    finding = one(policy(rule), [row])
    assert finding.status == "insufficient_data"
    assert finding.reason == ev.SMALL_GROUP.format(
        metric="fairness.equalized_odds_difference", segment="sex", group="Female", n=20,
        min_samples=30)
    assert finding.groups["Female"]["n_by_rate"]["false_positive_rate"] == 200


def test_a_group_below_min_samples_makes_the_rule_insufficient() -> None:
    row = MetricRow("fairness.selection_rate_ratio", 0.95, "sex", details=groups(0.4, 0.42, n_female=40))
    finding = one(policy(ratio_rule(min_samples=100)), [row])
    assert finding.status == "insufficient_data"
    assert finding.reason == ev.SMALL_GROUP.format(metric="fairness.selection_rate_ratio",
                                                   segment="sex", group="Female", n=40,
                                                   min_samples=100)


def test_a_group_the_monitor_left_out_is_named_but_does_not_block() -> None:
    details = groups(0.4, 0.42)
    details["groups"]["Other"] = {"value": 0.1, "n": 5, "status": "insufficient_data"}
    row = MetricRow("fairness.selection_rate_ratio", 0.95, "sex", details=details)
    finding = one(policy(ratio_rule(min_samples=100)), [row])
    assert finding.status == "pass"
    assert "Other 0.1 (n=5, left out: too few rows)" in finding.reason


def test_min_samples_with_an_unknown_sample_size_is_insufficient() -> None:
    finding = one(policy(recall_rule(min_samples=50)), [MetricRow("performance.recall", 0.9)])
    assert finding.status == "insufficient_data"
    assert finding.reason == ev.UNKNOWN_SIZE.format(metric="performance.recall", segment="all",
                                                    min_samples=50, what="the row")


def waiver(expires: dt.date, rule: str = "recall-floor") -> Waiver:
    return Waiver(rule=rule, reason="Label backlog after migration", approved_by="risk-office",
                  expires=expires)


def test_a_failure_under_a_valid_waiver_is_waived_and_holds_the_waiver() -> None:
    p = policy(recall_rule(), waivers=(waiver(dt.date(2026, 12, 31)),))
    finding = one(p, [MetricRow("performance.recall", 0.5, n=400)])
    assert finding.status == "waived"
    assert finding.waiver == {"rule": "recall-floor", "reason": "Label backlog after migration",
                              "approved_by": "risk-office", "expires": "2026-12-31",
                              "active": True}
    assert finding.reason == wv.WAIVED_REASON.format(
        reason="performance.recall [all] = 0.5 (point estimate) violates >= 0.6",
        expires="2026-12-31", approved_by="risk-office", why="Label backlog after migration")


def test_a_waiver_is_valid_through_its_expiry_day_and_expired_the_day_after() -> None:
    p = policy(recall_rule(), waivers=(waiver(dt.date(2026, 3, 2)),))
    rows = [MetricRow("performance.recall", 0.5, n=400)]
    assert one(p, rows, today=dt.date(2026, 3, 2)).status == "waived"
    expired = one(p, rows, today=dt.date(2026, 3, 3))
    assert expired.status == "fail"
    assert expired.reason == wv.EXPIRED_REASON.format(
        reason="performance.recall [all] = 0.5 (point estimate) violates >= 0.6",
        expires="2026-03-02", approved_by="risk-office", why="Label backlog after migration")
    assert expired.waiver is not None and expired.waiver["active"] is False


def test_a_waiver_applies_only_to_its_own_rule() -> None:
    p = policy(recall_rule(), recall_rule(id="recall-floor-2"),
               waivers=(waiver(dt.date(2026, 12, 31)),))
    findings = run(p, [MetricRow("performance.recall", 0.5, n=400)])
    assert [(f.rule_id, f.status) for f in findings] == [("recall-floor", "waived"),
                                                          ("recall-floor-2", "fail")]


def test_a_waiver_never_hides_an_error_and_leaves_a_pass_alone() -> None:
    p = policy(recall_rule(), waivers=(waiver(dt.date(2026, 12, 31)),))
    error = MetricRow("performance.recall", None, status="error")
    assert one(p, [error]).status == "error"
    assert one(p, [MetricRow("performance.recall", 0.9)]).status == "pass"


def test_sensitive_star_gives_one_finding_per_attribute_seen() -> None:
    rows = [MetricRow("fairness.selection_rate_ratio", 0.9, "sex", details=groups(0.4, 0.44)),
            MetricRow("fairness.selection_rate_ratio", 0.7, "race"),
            MetricRow("fairness.selection_rate_ratio", 0.5, "sex&race")]
    findings = run(policy(ratio_rule(sensitive="*")), rows)
    assert [(f.segment, f.status) for f in findings] == [("sex", "pass"), ("race", "fail")]


def test_sensitive_star_reports_a_declared_attribute_without_rows() -> None:
    rows = [MetricRow("fairness.selection_rate_ratio", 0.9, "sex")]
    findings = run(policy(ratio_rule(sensitive="*")), rows, sensitive=("sex", "race"))
    assert [(f.segment, f.status) for f in findings] == [("sex", "pass"), ("race", "error")]
    assert "'sex'" in findings[1].reason


def test_sensitive_star_with_no_rows_at_all_is_insufficient() -> None:
    finding = one(policy(ratio_rule(sensitive="*")), [])
    assert finding.status == "insufficient_data"
    assert finding.reason == ev.NO_ATTRIBUTE_ROWS.format(metric="fairness.selection_rate_ratio")


def test_a_misnamed_attribute_is_an_error_that_lists_the_segments_there_are() -> None:
    rows = [MetricRow("fairness.selection_rate_ratio", 0.9, "sex")]
    finding = one(policy(ratio_rule(sensitive="gender")), rows)
    assert finding.status == "error"
    assert finding.reason == ev.NO_SEGMENT.format(
        metric="fairness.selection_rate_ratio", segment="gender", available="'sex'", hint="")


def test_an_intersection_matches_whatever_the_order_of_its_parts() -> None:
    rows = [MetricRow("fairness.selection_rate_ratio", 0.85, "sex&race")]
    finding = one(policy(ratio_rule(sensitive=["race", "sex"])), rows)
    assert (finding.status, finding.segment) == ("pass", "race&sex")


def test_segment_star_gives_one_finding_per_segment() -> None:
    rule = {"id": "missing", "metric": "quality.missing_rate", "op": "<=", "threshold": 0.05,
            "segment": "*"}
    rows = [MetricRow("quality.missing_rate", 0.0, "column=age"),
            MetricRow("quality.missing_rate", 0.2, "column=income")]
    findings = run(policy(rule), rows)
    assert [(f.segment, f.status) for f in findings] == [("column=age", "pass"),
                                                          ("column=income", "fail")]


def test_two_rows_for_one_segment_are_an_error() -> None:
    rows = [MetricRow("performance.recall", 0.9), MetricRow("performance.recall", 0.5)]
    assert one(policy(recall_rule()), rows).status == "error"


def test_a_range_rule_passes_inside_and_fails_outside() -> None:
    rule = {"type": "range", "id": "positive-rate", "metric": "performance.positive_rate",
            "min": 0.01, "max": 0.99}
    assert one(policy(rule), [MetricRow("performance.positive_rate", 0.3)]).status == "pass"
    outside = one(policy(rule), [MetricRow("performance.positive_rate", 1.0)])
    assert (outside.status, outside.op) == ("fail", "within [0.01, 0.99]")


class _AlwaysFailRule(Rule):
    type: Literal["always-fail"] = "always-fail"

    def expectation(self) -> str:
        return "never"

    def judge(self, row: MetricRow, *, segment: str) -> Verdict:
        return Verdict("fail", f"{self.metric} [{segment}] is never good enough", row.value)


def test_a_users_rule_type_goes_through_the_same_door() -> None:
    with RULE_TYPES.overriding():
        register_rule_type(_AlwaysFailRule)
        assert RULE_TYPES["always-fail"] is _AlwaysFailRule
        p = policy(recall_rule())
        p = Policy(**{**dict(p), "rules": (_AlwaysFailRule(id="x", metric="performance.recall"),)})
        finding = one(p, [MetricRow("performance.recall", 0.99)])
    assert finding.status == "fail" and finding.reason == "performance.recall [all] is never good enough"
    assert "always-fail" not in RULE_TYPES


def test_a_crashing_rule_type_is_an_error_finding_not_a_crash() -> None:
    class Broken(_AlwaysFailRule):
        def judge(self, row: MetricRow, *, segment: str) -> Verdict:
            raise ZeroDivisionError("oops")

    p = policy(recall_rule())
    p = Policy(**{**dict(p), "rules": (Broken(id="x", metric="performance.recall"),)})
    finding = one(p, [MetricRow("performance.recall", 0.99)])
    assert finding.status == "error" and "ZeroDivisionError('oops')" in finding.reason
