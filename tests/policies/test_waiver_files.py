"""Waiver files: a policy file holding only waivers, each naming the policy whose rule it
waives; its applies_to decides for which models. Loaded with the shipped packs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from raigov.monitors.base import MetricRow
from raigov.policies.evaluate import evaluate
from raigov.policies.load_errors import PolicyError
from raigov.policies.loader import PACKS_DIR, load_policies
from raigov.policies.schema import WAIVER_NEEDS_POLICY, WAIVER_POLICY_WITH_RULES, select_policies

FOUR_FIFTHS = PACKS_DIR / "fairness-four-fifths.yaml"
TAGS = ("binary-classifier",)
WAIVERS = """policy: known-issues
version: 1
applies_to: {models: [income]}
waivers:
  - policy: fairness-four-fifths
    rule: four-fifths
    reason: known proxy effect
    approved_by: risk-office
    expires: 2026-12-31
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


def _ratio_row(value: float) -> MetricRow:
    groups = {"Female": {"value": 0.1, "n": 400}, "Male": {"value": 0.3, "n": 600}}
    return MetricRow("fairness.selection_rate_ratio", value, "sex", value - 0.05, value + 0.05,
                     1000, details={"groups": groups})


def _statuses(policies, model: str) -> dict[str, str]:
    chosen = select_policies(policies, model=model, tags=TAGS)
    findings = evaluate(chosen, [_ratio_row(0.33)], model=model, version=1,
                        window_start=None, window_end=None, today=dt.date(2026, 12, 1),
                        sensitive=("sex",))
    return {f.rule_id: f.status for f in findings}


def test_a_waiver_file_waives_a_packs_rule_for_its_models_only(tmp_path) -> None:
    policies = load_policies([FOUR_FIFTHS, _write(tmp_path, WAIVERS)])
    assert _statuses(policies, "income") == {"four-fifths": "waived",
                                             "four-fifths-confident": "fail"}
    assert _statuses(policies, "credit") == {"four-fifths": "fail",
                                             "four-fifths-confident": "fail"}
    [pack] = select_policies(policies, model="income", tags=TAGS)
    assert pack.sha256 == load_policies([FOUR_FIFTHS])[0].sha256   # still the pack's text
    assert pack.waivers[0].as_dict(today=dt.date(2026, 12, 1))["policy"] == \
        "fairness-four-fifths"


def test_a_waiver_file_naming_an_unknown_policy_or_rule_says_where(tmp_path) -> None:
    path = _write(tmp_path, WAIVERS.replace("policy: fairness-four-fifths",
                                            "policy: fairness-four-fifth"))
    with pytest.raises(PolicyError) as caught:
        load_policies([FOUR_FIFTHS, path])
    [problem] = caught.value.problems
    assert problem.message.startswith("Waiver for policy 'fairness-four-fifth' in field "
                                      f"'policy' of waivers[0] (rule 'four-fifths') ({path}, "
                                      "line 6)")
    assert "Did you mean 'fairness-four-fifths'?" in problem.message
    path = _write(tmp_path, WAIVERS.replace("rule: four-fifths", "rule: four-fifth"))
    with pytest.raises(PolicyError) as caught:
        load_policies([FOUR_FIFTHS, path])
    assert "Waiver for unknown rule 'four-fifth'" in caught.value.problems[0].message
    assert "'four-fifths', 'four-fifths-confident'" in caught.value.problems[0].message


def test_a_waiver_in_a_waiver_file_must_name_its_policy_and_one_beside_rules_must_not(
        tmp_path) -> None:
    path = _write(tmp_path, WAIVERS.replace("  - policy: fairness-four-fifths\n    rule:",
                                            "  - rule:"))
    with pytest.raises(PolicyError) as caught:
        load_policies([path])
    assert WAIVER_NEEDS_POLICY[1:] in caught.value.problems[0].message
    assert caught.value.problems[0].line == 5
    text = FOUR_FIFTHS.read_text() + ("waivers:\n  - policy: other\n    rule: four-fifths\n"
                                      "    reason: r\n    approved_by: a\n"
                                      "    expires: 2026-12-31\n")
    with pytest.raises(PolicyError) as caught:
        load_policies([_write(tmp_path, text)])
    assert WAIVER_POLICY_WITH_RULES[1:] in caught.value.problems[0].message


def test_a_file_with_neither_rules_nor_waivers_is_refused(tmp_path) -> None:
    path = _write(tmp_path, "policy: empty\nversion: 1\napplies_to: {models: ['*']}\n")
    with pytest.raises(PolicyError) as caught:
        load_policies([path])
    assert "needs 'rules', or 'waivers' alone" in str(caught.value)
