"""The fairness monitor: how a model's predictions and errors differ between the
groups of each sensitive attribute (and each declared intersection), with fairlearn's
definitions. The computation depends on the output kind, so it is looked up in
:data:`FAIRNESS_BY_KIND` (a user's own kind registers its own):

- ``binary`` (:mod:`raigov.monitors.fairness_binary`): selection rate, TPR, FPR, FNR,
  accuracy per group; demographic parity, equalized odds, equal opportunity and each
  rate's difference and ratio;
- ``multiclass`` (:mod:`raigov.monitors.fairness_multiclass`): accuracy per group, and
  one-vs-rest per class selection rate, TPR and FPR with their disparities;
- ``regression`` (:mod:`raigov.monitors.fairness_regression`): mean prediction, MAE and
  RMSE per group with differences and ratios, and bounded group loss.

A binary text model whose text column names ``identity_terms`` also gets Borkan et al.'s
bias AUCs per mentioned group and sensitive attribute
(:mod:`raigov.monitors.fairness_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from raigov.errors import ConfigError
from raigov.monitors.base import MetricInfo, MetricRow, WindowData, register_monitor
from raigov.monitors.fairness_binary import (DISPARITIES, TOO_FEW_GROUPS, FairnessParams,
                                             binary_fairness_rows, groupings)
from raigov.monitors.fairness_multiclass import MULTICLASS_FAIRNESS_METRICS, multiclass_fairness_rows
from raigov.monitors.fairness_regression import REGRESSION_FAIRNESS_METRICS, regression_fairness_rows
from raigov.monitors.fairness_text import TEXT_FAIRNESS_METRICS, bias_auc_rows
from raigov.registry import Registry

__all__ = ["DISPARITIES", "FAIRNESS_BY_KIND", "FairnessMonitor", "TOO_FEW_GROUPS",
           "UNSUPPORTED_OUTPUT_KIND", "groupings"]

UNSUPPORTED_OUTPUT_KIND = ("FairnessMonitor has no computation for output_kind {kind!r} "
                           "of model {model!r}; it knows: {known}.")

KindFairness = Callable[[FairnessParams, WindowData], list[MetricRow]]
FAIRNESS_BY_KIND: Registry[KindFairness] = Registry("fairness computation")


def _binary_rows(params: FairnessParams, window: WindowData) -> list[MetricRow]:
    """Group rates and disparities, then (text models with identity terms) bias AUCs."""
    return binary_fairness_rows(params, window) + bias_auc_rows(params, window)


FAIRNESS_BY_KIND.register("binary", _binary_rows)
FAIRNESS_BY_KIND.register("multiclass", multiclass_fairness_rows)
FAIRNESS_BY_KIND.register("regression", regression_fairness_rows)


_RATES = {
    "selection_rate": ("share of predictions that are the positive class", False),
    "true_positive_rate": ("recall within the group", True),
    "false_positive_rate": ("share of true negatives predicted positive", True),
    "false_negative_rate": ("share of true positives predicted negative", True),
    "accuracy": ("accuracy within the group", True),
}


def _declared_metrics() -> tuple[MetricInfo, ...]:
    out = [
        MetricInfo("fairness.demographic_parity_difference",
                   "largest minus smallest selection rate across groups (fairlearn)", False),
        MetricInfo("fairness.demographic_parity_ratio",
                   "smallest over largest selection rate across groups (fairlearn); the "
                   "four-fifths rule asks >= 0.8", True),
        MetricInfo("fairness.equalized_odds_difference",
                   "larger of the TPR and FPR differences across groups (fairlearn)", False, True),
        MetricInfo("fairness.equalized_odds_ratio",
                   "smaller of the TPR and FPR ratios across groups (fairlearn)", True, True),
        MetricInfo("fairness.equal_opportunity_difference",
                   "TPR difference across groups", False, True),
        MetricInfo("fairness.equal_opportunity_ratio", "TPR ratio across groups", True, True),
    ]
    for rate, (meaning, labels) in _RATES.items():
        out.append(MetricInfo(f"fairness.{rate}", f"per group: {meaning} (n: the rate's "
                              "denominator)", None, labels))
        out.append(MetricInfo(f"fairness.{rate}_difference",
                              f"largest minus smallest {rate} across groups", False, labels))
        out.append(MetricInfo(f"fairness.{rate}_ratio",
                              f"smallest over largest {rate} across groups", True, labels))
    out.append(MetricInfo("fairness.group_size", "per group: rows in the group", None))
    return tuple(out)


#: What the fairness family emits (the metric catalog is made of these declarations).
DECLARED_METRICS: tuple[MetricInfo, ...] = tuple({m.name: m for m in (
    *_declared_metrics(), *MULTICLASS_FAIRNESS_METRICS, *REGRESSION_FAIRNESS_METRICS,
    *TEXT_FAIRNESS_METRICS)}.values())

@register_monitor
class FairnessMonitor:
    family: ClassVar[str] = "fairness"
    output_kinds: ClassVar[tuple[str, ...]] = tuple(FAIRNESS_BY_KIND.names())
    metrics: ClassVar[tuple[MetricInfo, ...]] = DECLARED_METRICS

    def __init__(self, *, bootstrap: int | None = None, seed: int = 0,
                 confidence: float = 0.95) -> None:
        self.params = FairnessParams(bootstrap=bootstrap, seed=seed, confidence=confidence)

    def run(self, window: WindowData) -> list[MetricRow]:
        spec = window.spec
        if spec.output_kind not in FAIRNESS_BY_KIND:
            raise ConfigError(UNSUPPORTED_OUTPUT_KIND.format(
                model=spec.name, kind=spec.output_kind, known=", ".join(FAIRNESS_BY_KIND.names())))
        return FAIRNESS_BY_KIND.get(spec.output_kind)(self.params, window)
