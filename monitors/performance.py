"""The performance monitor: how good a model's predictions are on the rows whose
ground truth has arrived, for ``all`` and each group of each sensitive attribute.

What "good" means depends on the output kind, so the monitor looks its computation up
in :data:`PERFORMANCE_BY_KIND` (one entry per kind, a user's own kind registers its
own) instead of branching on the kind's name:

- ``binary`` (:mod:`raigov.monitors.performance_binary`): accuracy, precision, recall,
  F1, ROC AUC, log loss, ECE, positive rate;
- ``multiclass`` (:mod:`raigov.monitors.performance_multiclass`): accuracy, top-k
  accuracy, macro and weighted precision/recall/F1 and the same per class, log loss,
  top-label ECE;
- ``regression`` (:mod:`raigov.monitors.performance_regression`): MAE, RMSE, R², MAPE,
  median absolute error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from raigov.errors import ConfigError
from raigov.monitors.base import MetricInfo, MetricRow, WindowData, register_monitor
from raigov.monitors.performance_binary import NO_SCORES, binary_performance_rows
from raigov.monitors.performance_common import NO_LABELS, PerformanceParams, Settings
from raigov.monitors.performance_multiclass import MULTICLASS_METRICS, multiclass_performance_rows
from raigov.monitors.performance_regression import REGRESSION_METRICS, regression_performance_rows
from raigov.registry import Registry

__all__ = ["NO_LABELS", "NO_SCORES", "PERFORMANCE_BY_KIND", "PerformanceMonitor",
           "PerformanceParams", "UNSUPPORTED_OUTPUT_KIND"]

UNSUPPORTED_OUTPUT_KIND = ("PerformanceMonitor has no computation for output_kind {kind!r} "
                           "of model {model!r}; it knows: {known}.")

KindPerformance = Callable[[Settings, WindowData], list[MetricRow]]
PERFORMANCE_BY_KIND: Registry[KindPerformance] = Registry("performance computation")
PERFORMANCE_BY_KIND.register("binary", binary_performance_rows)
PERFORMANCE_BY_KIND.register("multiclass", multiclass_performance_rows)
PERFORMANCE_BY_KIND.register("regression", regression_performance_rows)


#: What the performance family emits (the metric catalog is made of these declarations).
_BINARY_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("performance.accuracy", "share of correct predictions", True, True),
    MetricInfo("performance.precision", "TP / (TP + FP)", True, True),
    MetricInfo("performance.recall", "TP / (TP + FN)", True, True),
    MetricInfo("performance.f1", "harmonic mean of precision and recall", True, True),
    MetricInfo("performance.roc_auc", "area under the ROC curve of the score", True, True),
    MetricInfo("performance.log_loss", "cross-entropy of the score", False, True),
    MetricInfo("performance.ece", "expected calibration error (10 equal-width bins, as "
               "scikit-learn's calibration_curve)", False, True),
    MetricInfo("performance.positive_rate", "share of positive predictions", None),
)
DECLARED_METRICS: tuple[MetricInfo, ...] = tuple({m.name: m for m in (
    *_BINARY_METRICS, *MULTICLASS_METRICS, *REGRESSION_METRICS)}.values())

@register_monitor
class PerformanceMonitor:
    family: ClassVar[str] = "performance"
    output_kinds: ClassVar[tuple[str, ...]] = tuple(PERFORMANCE_BY_KIND.names())
    metrics: ClassVar[tuple[MetricInfo, ...]] = DECLARED_METRICS

    def __init__(self, *, bootstrap: int | None = None, seed: int = 0, ece_bins: int = 10,
                 score_bins: int = 200, confidence: float = 0.95) -> None:
        self.params = PerformanceParams(bootstrap=bootstrap, seed=seed, ece_bins=ece_bins,
                                        score_bins=score_bins, confidence=confidence)

    def run(self, window: WindowData) -> list[MetricRow]:
        spec = window.spec
        if spec.output_kind not in PERFORMANCE_BY_KIND:
            raise ConfigError(UNSUPPORTED_OUTPUT_KIND.format(
                model=spec.name, kind=spec.output_kind,
                known=", ".join(PERFORMANCE_BY_KIND.names())))
        compute = PERFORMANCE_BY_KIND.get(spec.output_kind)
        return compute(Settings.of(self.params, window), window)
