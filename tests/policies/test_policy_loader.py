"""Loading policy files: every error names the file, the line and the field, and says
what was expected; a good file loads with its hash and the line of each rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from raigov.file_problems import FILE_NOT_FOUND
from raigov.policies import load_errors, loader, rules
from raigov.policies.loader import PolicyError, load_policies, load_policy
from raigov.policies.schema import policy_applies, select_policies

GOOD = """\
policy: lending-fairness        # unique name
version: 3
description: Four-fifths rule and recall floor for credit decisions
applies_to: {models: [income-classifier]}      # or tags
references: ["EU AI Act Art. 15", "NIST AI RMF MEASURE 2.11", "EEOC 29 CFR 1607.4(D)"]
rules:
  - id: four-fifths-sex
    metric: fairness.selection_rate_ratio
    sensitive: sex
    op: ">="
    threshold: 0.8
    severity: critical          # info | warning | critical
    min_samples: 100            # per group; fewer -> status insufficient_data
  - id: recall-floor
    metric: performance.recall
    op: ">="
    threshold: 0.6
    severity: warning
waivers:
  - rule: recall-floor
    reason: Label backlog after migration
    approved_by: risk-office
    expires: 2026-12-31
"""


LENDING_TYPO = """\
policy: lending-fairness
version: 3
description: Four-fifths rule for credit decisions
applies_to: {models: [income-classifier]}
references:
  - EU AI Act Art. 15
  - NIST AI RMF MEASURE 2.11
  - EEOC 29 CFR 1607.4(D)
rules:
  - id: four-fifths-sex
    sensitive: sex
    metric: fairness.selection_ratio
    op: ">="
    threshold: 0.8
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only_problem(path: Path) -> load_errors.PolicyProblem:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert len(caught.value.problems) == 1, str(caught.value)
    problem = caught.value.problems[0]
    assert str(caught.value) == problem.message
    return problem


def test_a_good_policy_file_loads_with_its_hash_and_rule_lines(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    policy = load_policy(path)
    assert policy.policy == "lending-fairness" and policy.version == 3
    assert policy.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert policy.rule_lines == (("four-fifths-sex", 7), ("recall-floor", 14))
    assert policy.rule_line("recall-floor") == 14 and hash(policy)
    assert [r.id for r in policy.rules] == ["four-fifths-sex", "recall-floor"]
    assert policy.rules[0].sensitive == ("sex",)
    assert policy.waivers[0].approved_by == "risk-office"


def test_the_hash_changes_when_a_comment_changes(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path, GOOD, "a.yaml"))
    second = load_policy(write(tmp_path, GOOD.replace("# unique name", "# renamed"), "b.yaml"))
    assert first.sha256 != second.sha256


def test_a_typo_in_a_field_name_suggests_the_right_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    threshold: 0.6", "    thresold: 0.6"))
    problem = only_problem(path)
    allowed = ("type, id, metric, severity, segment, sensitive, min_samples, description, "
               "references, op, threshold, judge, bound")
    assert problem.message == load_errors.UNKNOWN_FIELD.format(
        field="thresold", where="rule 'recall-floor'", path=str(path), line=17,
        hint=" Did you mean 'threshold'?", allowed=allowed)
    assert (problem.line, problem.field, problem.code) == (17, "thresold", "extra_forbidden")


def test_a_bad_operator_lists_the_valid_operators(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('op: ">="\n    threshold: 0.6', 'op: "=>"\n    threshold: 0.6'))
    problem = only_problem(path)
    assert problem.message == (
        f"Unknown operator '=>' in field 'op' of rule 'recall-floor' ({path}, line 16). "
        "Valid operators: '>=', '>', '<=', '<', '==', '!='.")
    assert (problem.line, problem.field) == (16, "op")


def test_an_unknown_metric_names_file_line_rule_and_the_close_match(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies" / "packs").mkdir(parents=True)
    path = Path("policies/packs/lending.yaml")
    path.write_text(LENDING_TYPO, encoding="utf-8")
    problem = only_problem(path)
    assert problem.message == (
        "Unknown metric 'fairness.selection_ratio' in rule 'four-fifths-sex' "
        "(policies/packs/lending.yaml, line 12). Did you mean 'fairness.selection_rate_ratio'?")
    assert (problem.line, problem.field, problem.code) == (12, "metric", "unknown_metric")


def test_an_unknown_metric_without_close_match_points_to_the_metric_list(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("performance.recall", "banana.split"))
    problem = only_problem(path)
    assert problem.message == load_errors.UNKNOWN_METRIC.format(
        metric="banana.split", where="rule 'recall-floor'", path=str(path), line=15,
        hint=load_errors.NO_CLOSE_METRIC)


def test_a_wrong_type_says_the_expected_type(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("threshold: 0.8", "threshold: high"))
    problem = only_problem(path)
    assert problem.message == (f"Field 'threshold' in rule 'four-fifths-sex' ({path}, line 11) "
                               "must be a number, got 'high'.")
    assert (problem.line, problem.field) == (11, "threshold")


def test_invalid_yaml_gives_the_parser_line_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('op: ">="\n    threshold: 0.6', 'op: >=\n    threshold: 0.6'))
    problem = only_problem(path)
    assert problem.message == loader.INVALID_YAML.format(
        path=str(path), line=16, column=10, near=" (field 'op')",
        problem="while scanning a block scalar, expected chomping or indentation "
                "indicators, but found '='",
        hint=loader.QUOTE_OPERATOR_HINT)
    assert (problem.line, problem.field, problem.code) == (16, "op", "invalid_yaml")


@pytest.mark.parametrize("field", ["reason", "approved_by", "expires"])
def test_a_waiver_without_reason_approver_or_expiry_is_rejected(tmp_path: Path, field: str) -> None:
    lines = [line for line in GOOD.splitlines() if not line.strip().startswith(f"{field}:")]
    path = write(tmp_path, "\n".join(lines) + "\n")
    problem = only_problem(path)
    assert problem.message == load_errors.MISSING_FIELD.format(
        field=field, where="waivers[0] (rule 'recall-floor')", path=str(path), line=20)


def test_a_waiver_for_an_unknown_rule_suggests_the_rule(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  - rule: recall-floor", "  - rule: recall-flor"))
    problem = only_problem(path)
    assert problem.message == loader.UNKNOWN_WAIVER_RULE.format(
        rule="recall-flor", where="waivers[0] (rule 'recall-flor')", path=str(path), line=20,
        hint=" Did you mean 'recall-floor'?", rules="'four-fifths-sex', 'recall-floor'")


def test_a_bad_severity_lists_the_choices_and_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("severity: warning", "severity: warnig"))
    problem = only_problem(path)
    assert problem.message == load_errors.INVALID_VALUE.format(
        got="'warnig'", field="severity", where="rule 'recall-floor'", path=str(path), line=18,
        detail="expected one of 'info', 'warning', 'critical'", hint=" Did you mean 'warning'?")


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = GOOD.replace("threshold: 0.8", "threshold: high").replace("severity: warning",
                                                                      "severity: loud")
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    assert [p.line for p in caught.value.problems] == [11, 18]
    assert all(str(tmp_path) in p.message for p in caught.value.problems)


def test_duplicate_rule_ids_and_duplicate_keys_are_errors(tmp_path: Path) -> None:
    text = GOOD.replace("id: recall-floor", "id: four-fifths-sex").replace(
        "    threshold: 0.6\n", "    threshold: 0.6\n    threshold: 0.7\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    codes = {p.code for p in caught.value.problems}
    assert {"duplicate_rule", "duplicate_field"} <= codes


def test_a_range_rule_needs_a_bound(tmp_path: Path) -> None:
    text = GOOD.replace('op: ">="\n    threshold: 0.6', "type: range")
    problem = only_problem(write(tmp_path, text))
    assert problem.field == "max" and problem.code == "range_empty"


def test_ci_bound_judging_needs_a_one_sided_operator(tmp_path: Path) -> None:
    text = GOOD.replace('op: ">="\n    threshold: 0.6', 'op: "=="\n    threshold: 0.6\n    judge: ci_bound')
    problem = only_problem(write(tmp_path, text))
    assert (problem.field, problem.code) == ("judge", "ci_bound_op")


def test_a_fairness_rule_must_name_its_sensitive_attribute(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    sensitive: sex\n", ""))
    problem = only_problem(path)
    assert problem.message == load_errors.NEEDS_FIELD.format(
        field="sensitive", where="rule 'four-fifths-sex'", path=str(path), line=7,
        detail=rules.NEEDS_SENSITIVE.format(family="fairness"))
    assert (problem.field, problem.code) == ("sensitive", "needs_sensitive")


def test_sensitive_and_segment_together_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    sensitive: sex\n", "    sensitive: sex\n    segment: all\n"))
    problem = only_problem(path)
    assert (problem.field, problem.code, problem.line) == ("sensitive", "segment_and_sensitive", 9)


def test_an_empty_file_and_a_missing_file_are_reported(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, ""))
    assert problem.message == loader.NOT_A_MAPPING.format(path=str(tmp_path / "policy.yaml"),
                                                          line=1, got="an empty file")
    missing = tmp_path / "nope.yaml"
    assert only_problem(missing).message == FILE_NOT_FOUND.format(what="Policy", path=str(missing))


def test_load_policies_reports_every_file_and_duplicate_names(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD, "a.yaml")
    again = write(tmp_path, GOOD, "b.yaml")
    bad = write(tmp_path, GOOD.replace("version: 3", "version: three"), "c.yaml")
    with pytest.raises(PolicyError) as caught:
        load_policies([good, again, bad])
    assert [p.code for p in caught.value.problems] == ["duplicate_policy", "int_type"]
    assert load_policies([good])[0].policy == "lending-fairness"


def test_a_policy_applies_by_model_name_or_by_tag(tmp_path: Path) -> None:
    by_name = load_policy(write(tmp_path, GOOD, "a.yaml"))
    by_tag = load_policy(write(tmp_path, GOOD.replace("policy: lending-fairness", "policy: t")
                               .replace("{models: [income-classifier]}", "{tags: [demo]}"), "b.yaml"))
    assert policy_applies(by_name, model="income-classifier", tags=())
    assert not policy_applies(by_name, model="credit", tags=("demo",))
    assert policy_applies(by_tag, model="credit", tags=("demo", "tabular"))
    assert select_policies([by_name, by_tag], model="credit", tags=["demo"]) == [by_tag]
