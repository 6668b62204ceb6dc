"""Every shipped policy pack loads, is traceable (references on every rule), applies
by tag, and evaluates on synthetic metric rows: all pass on good figures, all fail
where the thresholds are crossed."""

from __future__ import annotations

import datetime as dt

import pytest

from raigov.monitors.base import MetricRow
from raigov.policies.evaluate import evaluate
from raigov.policies.loader import load_policies, load_policy, pack_paths
from raigov.policies.schema import Policy

PACKS = {p.stem: p for p in pack_paths()}
EXPECTED_PACKS = {"fairness-four-fifths", "fairness-equalized-odds", "performance-floors",
                  "drift-limits", "data-quality", "multiclass-classifier", "regressor",
                  "text-quality", "text-fairness", "text-drift"}
SENSITIVE = ("sex", "race")
COLUMNS = ("age", "hours_per_week")
# metric -> (good value, bad value); intervals are value +- 0.03
FIGURES: dict[str, tuple[float, float]] = {
    "fairness.selection_rate_ratio": (0.93, 0.6),
    "fairness.equalized_odds_difference": (0.03, 0.25),
    "fairness.equal_opportunity_difference": (0.03, 0.2),
    "fairness.false_negative_rate_difference": (0.03, 0.3),
    "performance.accuracy": (0.86, 0.6),
    "performance.f1_weighted": (0.8, 0.4),
    "performance.top_k_accuracy": (0.97, 0.6),
    "performance.r2": (0.4, -0.2),
    "fairness.accuracy_ratio": (0.93, 0.6),
    "fairness.mae_ratio": (0.93, 0.5),
    "fairness.mean_prediction_ratio": (0.93, 0.6),
    "performance.recall": (0.7, 0.3),
    "performance.roc_auc": (0.9, 0.6),
    "performance.ece": (0.03, 0.2),
    "performance.positive_rate": (0.3, 1.0),
    "drift.share_drifted": (0.1, 0.6),
    "drift.dataset_drift": (0.0, 1.0),
    "drift.score_ratio": (0.5, 3.0),
    "explain.attribution_shift": (0.1, 0.6),
    "quality.schema_violation_rate": (0.0, 0.05),
    "quality.missing_rate": (0.01, 0.2),
    "quality.out_of_range_rate": (0.0, 0.2),
    "quality.rows": (5000.0, 50.0),
    "quality.label_coverage": (0.8, 0.2),
    "quality.quarantine_rate": (0.0, 0.05),
    "quality.empty_rate": (0.0, 0.1),
    "quality.truncated_rate": (0.0, 0.1),
    "quality.oov_rate": (0.0, 0.05),
    "quality.non_letter_rate": (0.04, 0.4),
    "quality.text_length": (27.0, 2.0),
    "fairness.subgroup_auc": (0.85, 0.5),
    "fairness.bpsn_auc": (0.85, 0.3),
    "fairness.bnsp_auc": (0.85, 0.3),
    "fairness.generalized_mean_bias_auc": (0.8, 0.5),
    "fairness.counterfactual_gap": (0.02, -0.3),
    "drift.embedding": (0.52, 0.7),
}
PER_COLUMN = ("drift.score_ratio", "quality.missing_rate", "quality.out_of_range_rate", "quality.empty_rate",
              "quality.truncated_rate", "quality.oov_rate", "quality.non_letter_rate",
              "quality.text_length", "drift.embedding")


def rows(*, good: bool) -> list[MetricRow]:
    out = []
    for metric, (ok, bad) in FIGURES.items():
        value = ok if good else bad
        ci = (value - 0.03, value + 0.03)
        if metric.startswith("fairness."):
            groups = {"groups": {"A": {"value": 0.4, "n": 500}, "B": {"value": 0.42, "n": 600}}}
            out += [MetricRow(metric, value, attr, *ci, 1100, details=groups) for attr in SENSITIVE]
        elif metric in PER_COLUMN:
            out += [MetricRow(metric, value, f"column={c}", *ci, 2000) for c in COLUMNS]
        else:
            out.append(MetricRow(metric, value, "all", *ci, 2000))
    return out


class ChunksAroundGood:
    """Reference-chunk values for band rules: ten chunks whose values spread by 10%
    around the good figure (a fair stand-in for a reference the good figures came
    from; tests/policies/test_reference_band.py draws them from real data)."""

    def chunk_values(self, metric: str, segment: str, *, chunk_size: int | None = None,
                     chunks: int | None = None) -> tuple[list[float], int]:
        good = FIGURES[metric][0]
        return [good * (0.9 + 0.02 * i) for i in range(10)], 500


def run(policy: Policy, *, good: bool) -> list[str]:
    findings = evaluate([policy], rows(good=good), model="income", version=1,
                        window_start=None, window_end=None, today=dt.date(2026, 3, 2),
                        sensitive=SENSITIVE, reference=ChunksAroundGood())
    return [f.status for f in findings]


def test_the_ten_packs_are_shipped() -> None:
    assert set(PACKS) == EXPECTED_PACKS


def test_every_pack_loads_together_without_name_clashes() -> None:
    assert {p.policy for p in load_policies(pack_paths())} == EXPECTED_PACKS


@pytest.mark.parametrize("name", sorted(EXPECTED_PACKS))
def test_a_pack_passes_on_good_figures_and_fails_where_thresholds_are_crossed(name: str) -> None:
    policy = load_policy(PACKS[name])
    passing, failing = run(policy, good=True), run(policy, good=False)
    assert passing and set(passing) == {"pass"}, passing
    assert failing and set(failing) == {"fail"}, failing


@pytest.mark.parametrize("name", sorted(EXPECTED_PACKS))
def test_every_pack_rule_is_traceable_to_a_reference(name: str) -> None:
    policy = load_policy(PACKS[name])
    assert policy.applies_to.tags and not policy.applies_to.models
    for rule in policy.rules:
        assert policy.references_for(rule), rule.id
        assert any(ref.startswith(("EU AI Act", "NIST AI RMF", "EEOC"))
                   for ref in policy.references_for(rule)), rule.id


def test_fairness_packs_give_one_finding_per_declared_sensitive_attribute() -> None:
    policy = load_policy(PACKS["fairness-four-fifths"])
    findings = evaluate([policy], rows(good=True), model="m", version=1, window_start=None,
                        window_end=None, today=dt.date(2026, 3, 2), sensitive=("sex",))
    assert [(f.rule_id, f.segment) for f in findings] == [("four-fifths", "sex"),
                                                          ("four-fifths-confident", "sex")]


def test_the_four_fifths_pack_cites_the_eeoc_uniform_guidelines() -> None:
    policy = load_policy(PACKS["fairness-four-fifths"])
    assert any("29 CFR 1607.4(D)" in ref for ref in policy.references)
