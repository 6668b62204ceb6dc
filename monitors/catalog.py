"""Every metric name a monitor may emit, with its meaning: what policies refer to and
what ``raigov metrics`` lists. Names with a ``<feature>`` part are patterns."""

from __future__ import annotations

import re

from raigov.monitors.drift_outputs import OUTPUT_DRIFT_METRICS
from raigov.monitors.fairness_multiclass import MULTICLASS_FAIRNESS_METRICS
from raigov.monitors.fairness_regression import REGRESSION_FAIRNESS_METRICS
from raigov.monitors.metric_info import MetricInfo
from raigov.monitors.performance_multiclass import MULTICLASS_METRICS
from raigov.monitors.performance_regression import REGRESSION_METRICS

__all__ = ["METRICS", "MetricInfo", "metric_info", "metric_names"]


_RATES = {
    "selection_rate": ("share of predictions that are the positive class", False),
    "true_positive_rate": ("recall within the group", True),
    "false_positive_rate": ("share of true negatives predicted positive", True),
    "false_negative_rate": ("share of true positives predicted negative", True),
    "accuracy": ("accuracy within the group", True),
}


def _fairness() -> list[MetricInfo]:
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
    return out


METRICS: tuple[MetricInfo, ...] = tuple({m.name: m for m in [
    MetricInfo("quality.rows", "predictions in the window"),
    MetricInfo("quality.missing_rate", "share of missing input values (per column in "
               "segment column=<name>)", False),
    MetricInfo("quality.schema_violation_rate", "share of rows failing the registered "
               "input schema (pandera)", False),
    MetricInfo("quality.out_of_range_rate", "share of values outside the registered range "
               "or category list (per column)", False),
    MetricInfo("quality.label_coverage", "share of predictions whose ground truth arrived", True),
    MetricInfo("drift.share_drifted", "share of features whose drift test fires", False),
    MetricInfo("drift.dataset_drift", "1 when the share of drifted features reaches the "
               "model's drift_share_threshold, else 0", False),
    MetricInfo("drift.feature.<feature>", "drift score of one feature against the reference "
               "(method and threshold in details; Evidently's definitions)", None),
    MetricInfo("drift.prediction", "drift score of the model's score against the reference", None),
    MetricInfo("performance.accuracy", "share of correct predictions", True, True),
    MetricInfo("performance.precision", "TP / (TP + FP)", True, True),
    MetricInfo("performance.recall", "TP / (TP + FN)", True, True),
    MetricInfo("performance.f1", "harmonic mean of precision and recall", True, True),
    MetricInfo("performance.roc_auc", "area under the ROC curve of the score", True, True),
    MetricInfo("performance.log_loss", "cross-entropy of the score", False, True),
    MetricInfo("performance.ece", "expected calibration error (10 equal-width bins, as "
               "scikit-learn's calibration_curve)", False, True),
    MetricInfo("performance.positive_rate", "share of positive predictions", None),
    *_fairness(),
    MetricInfo("monitor.error", "a monitor family failed on this window (segment: the "
               "family; the error in details): shown, never silently skipped", False),
    MetricInfo("explain.importance.<feature>", "mean |SHAP| of one feature in logit units "
               "(DeepExplainer on the model's logit); segment all and per sensitive group", None),
    MetricInfo("explain.attribution_shift", "1 minus the Spearman rank agreement of feature "
               "importance between the window and the reference", False),
    # the multiclass and regression kinds (each monitor module declares its own)
    *MULTICLASS_METRICS, *REGRESSION_METRICS, *MULTICLASS_FAIRNESS_METRICS,
    *REGRESSION_FAIRNESS_METRICS, *OUTPUT_DRIFT_METRICS,
]}.values())

_PATTERNS = [(m, re.compile("^" + re.escape(m.name).replace(re.escape("<feature>"), r"[^\s]+") + "$"))
             for m in METRICS]


def metric_info(name: str) -> MetricInfo | None:
    """The catalog entry that ``name`` matches (exactly or by pattern), or None."""
    for info, pattern in _PATTERNS:
        if pattern.match(name):
            return info
    return None


def metric_names() -> list[str]:
    return [m.name for m in METRICS]
