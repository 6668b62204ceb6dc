"""Feature attributions of a window's predictions (SHAP on the torch model).

For a seeded sample of ``spec.monitoring.explain_sample`` rows of the window, shap's
DeepExplainer (background: a seeded sample of the reference) explains the model's
**logit**; SHAP values are summed per original feature (see ``raigov.monitors.shap_explainer``).

- ``explain.importance.<feature>``: mean |SHAP| (logit units) over the sample, segment
  ``all`` and per group of each sensitive attribute (``sex=Female``): is the model
  leaning on different features for different groups? Bootstrap interval over the
  segment's explained rows; a segment smaller than ``min_group_size`` keeps its value
  with status ``insufficient_data``.
- ``explain.attribution_shift``: 1 - Spearman rank correlation between the window
  sample's global importance and that of an independent seeded sample of the reference
  (0: same ranking, 1: unrelated, 2: reversed); details hold the top-5 features of each
  and their overlap; bootstrap interval over the window sample's rows.

Every row's details report the largest additivity error ``|base + sum - logit|`` of the
explained rows; above ``ADDITIVITY_TOLERANCE`` every row is an error instead. A window
without an artifact, or whose artifact cannot be loaded, gives error rows with the
reason. Fitted explainers and the reference sample's importance are cached per
artifact and reference, so consecutive windows pay only for their own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raigov.models.registry import holds_network
from raigov.models.spec import ModelSpec
from raigov.monitors.base import MetricInfo, MetricRow, RowStatus, WindowData, register_monitor
from raigov.monitors.counts import (Grouping, figure_row, group_rows, make_rng, overall_grouping,
                             percentile_interval)
from raigov.monitors.shap_explainer import (ADDITIVITY_TOLERANCE, METHOD, MSG_ADDITIVITY, OUTPUT,
                                     OUTPUT_MEANING, Explanation, FittedExplainer,
                                     cached_explainer, explain_rows, sample_frame)
from raigov.errors import ConfigError, InputError

if TYPE_CHECKING:
    from raigov.models.artifact import LoadedModel

NO_ARTIFACT = ("the window has no artifact_dir, so the model cannot be loaded to explain "
               "its predictions")
EXPLAINER_UNAVAILABLE = "the model could not be loaded and explained: {error}"
SERVED_ELSEWHERE = ("model {model!r} is served elsewhere: raigov holds no network to explain "
                    "its predictions")
NO_ROWS = "the window holds no predictions to explain"
SHIFT_UNDEFINED = ("the features' importances are all equal in the window or the reference "
                   "sample (or there are fewer than 2 features), so their rank correlation "
                   "is undefined")
UNSUPPORTED_OUTPUT_KIND = ("ExplainMonitor supports output_kind 'binary' only (it explains "
                           "the logit); model {model!r} has output_kind {kind!r}.")
TOP_K = 5
IMPORTANCE = "explain.importance.{feature}"
SHIFT = "explain.attribution_shift"


class ExplainParams(BaseModel):
    """``sample_size`` None takes the model's ``monitoring.explain_sample``; ``bootstrap``
    None its ``monitoring.bootstrap``; ``device`` None the model's own (CUDA if any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    background_size: int = Field(default=200, ge=1)
    sample_size: int | None = Field(default=None, ge=1)
    seed: int = 0
    bootstrap: int | None = Field(default=None, ge=0)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    device: Literal["cpu", "cuda"] | None = None


@dataclass(frozen=True)
class _Context:
    features: tuple[str, ...]
    replicates: int
    confidence: float
    min_n: int
    seed: int
    base: dict[str, Any]


@dataclass(frozen=True)
class _Reference:
    """The reference sample's global importance (cached with the explainer)."""

    importance: np.ndarray
    n: int
    max_additivity_error: float


#: What the explain family emits (the metric catalog is made of these declarations).
DECLARED_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("explain.importance.<feature>", "mean |SHAP| of one feature in logit units "
               "(DeepExplainer on the model's logit); segment all and per sensitive group", None),
    MetricInfo("explain.attribution_shift", "1 minus the Spearman rank agreement of feature "
               "importance between the window and the reference", False),
)

@register_monitor
class ExplainMonitor:
    family: ClassVar[str] = "explain"
    output_kinds: ClassVar[tuple[str, ...]] = ("binary",)
    metrics: ClassVar[tuple[MetricInfo, ...]] = DECLARED_METRICS

    def __init__(self, *, background_size: int = 200, sample_size: int | None = None,
                 seed: int = 0, bootstrap: int | None = None, confidence: float = 0.95,
                 device: Literal["cpu", "cuda"] | None = None) -> None:
        self.params = ExplainParams(background_size=background_size, sample_size=sample_size,
                                    seed=seed, bootstrap=bootstrap, confidence=confidence,
                                    device=device)

    def run(self, window: WindowData) -> list[MetricRow]:
        spec, params = window.spec, self.params
        if spec.output_kind not in self.output_kinds:
            raise ConfigError(UNSUPPORTED_OUTPUT_KIND.format(model=spec.name,
                                                            kind=spec.output_kind))
        if window.artifact_dir is None:
            return failed_rows(spec, status="error", reason=NO_ARTIFACT)
        if not holds_network(window.artifact_dir):
            return failed_rows(spec, status="insufficient_data",
                               reason=SERVED_ELSEWHERE.format(model=spec.name))
        if len(window.frame) == 0:
            return failed_rows(spec, status="insufficient_data", reason=NO_ROWS)
        try:
            loaded, fitted = cached_explainer(
                window.artifact_dir, reference=window.reference, seed=params.seed,
                background_size=params.background_size, device=params.device)
        except (ConfigError, InputError) as exc:  # a broken artifact or an empty reference
            return failed_rows(spec, status="error",
                               reason=EXPLAINER_UNAVAILABLE.format(error=exc))
        size = params.sample_size or spec.monitoring.explain_sample
        sample = sample_frame(window.frame, size=size, seed=params.seed, key="explain:window")
        explanation = explain_rows(fitted, loaded, sample)
        reference = _reference_importance(fitted, loaded, window, size=size)
        ctx = self._context(spec, fitted, explanation, reference)
        worst = max(explanation.max_additivity_error, reference.max_additivity_error)
        if worst > ADDITIVITY_TOLERANCE:
            reason = MSG_ADDITIVITY.format(n=explanation.n + reference.n, error=worst,
                                           tolerance=ADDITIVITY_TOLERANCE)
            return failed_rows(spec, status="error", reason=reason, details=ctx.base)
        rows = []
        for grouping in [overall_grouping(len(sample))] + [
                group_rows(sample, [column]) for column in spec.sensitive]:
            rows += _importance_rows(ctx, explanation.values, grouping)
        return rows + [_shift_row(ctx, explanation, reference)]

    def _context(self, spec: ModelSpec, fitted: FittedExplainer, explanation: Explanation,
                 reference: _Reference) -> _Context:
        params, monitoring = self.params, spec.monitoring
        base = {"output": OUTPUT, "output_meaning": OUTPUT_MEANING, "method": METHOD,
                "unit": "mean |SHAP| in logit units", "background_size": fitted.background_size,
                "explained_rows": explanation.n, "reference_rows": reference.n,
                "max_additivity_error": max(explanation.max_additivity_error,
                                            reference.max_additivity_error),
                "additivity_tolerance": ADDITIVITY_TOLERANCE, "device": fitted.device,
                "seed": params.seed}
        replicates = monitoring.bootstrap if params.bootstrap is None else params.bootstrap
        return _Context(features=explanation.feature_names, replicates=replicates,
                        confidence=params.confidence, min_n=monitoring.min_group_size,
                        seed=params.seed, base=base)


def failed_rows(spec: ModelSpec, *, status: RowStatus, reason: str,
                details: dict[str, Any] | None = None) -> list[MetricRow]:
    """One row per metric (segment ``all``) without a value, saying why."""
    details = {**(details or {}), "reason": reason}
    names = [IMPORTANCE.format(feature=f) for f in spec.features] + [SHIFT]
    return [MetricRow(metric=name, value=None, status=status, details=dict(details))
            for name in names]


def _reference_importance(fitted: FittedExplainer, loaded: "LoadedModel", window: WindowData,
                          *, size: int) -> _Reference:
    """Importance over an independent seeded sample of the reference, once per
    explainer and sample size."""
    key = ("reference_importance", size)
    if key not in fitted.memo:
        rows = sample_frame(window.reference, size=size, seed=fitted.seed,
                            key="explain:reference")
        explanation = explain_rows(fitted, loaded, rows)
        fitted.memo[key] = _Reference(explanation.importance(), explanation.n,
                                      explanation.max_additivity_error)
    return fitted.memo[key]


def bootstrap_importance(abs_values: np.ndarray, *, replicates: int,
                         rng: np.random.Generator) -> np.ndarray:
    """``[replicates, n_features]`` mean |SHAP| of rows resampled with replacement
    (multinomial row weights, so memory grows with rows, not rows x features)."""
    n = len(abs_values)
    if n == 0 or replicates == 0:
        return np.zeros((replicates, abs_values.shape[1]))
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates)
    return weights @ abs_values / n


def _importance_rows(ctx: _Context, values: np.ndarray, grouping: Grouping) -> list[MetricRow]:
    rows = []
    for group in range(len(grouping.values)):
        segment = grouping.segment(group)
        part = values[grouping.codes == group]
        importance = np.abs(part).mean(axis=0)
        draws = bootstrap_importance(np.abs(part), replicates=ctx.replicates,
                                     rng=make_rng(ctx.seed, f"explain:{segment}"))
        ranks = _rank_order(importance)
        for j, feature in enumerate(ctx.features):
            low, high, _ = percentile_interval(draws[:, j], estimate=float(importance[j]),
                                               confidence=ctx.confidence)
            details = {**ctx.base, "rank": ranks[j], "mean_shap": float(part[:, j].mean()),
                       "ci_method": "bootstrap" if ctx.replicates else "none",
                       "confidence": ctx.confidence, "bootstrap_replicates": ctx.replicates}
            rows.append(figure_row(IMPORTANCE.format(feature=feature), segment=segment,
                                   value=float(importance[j]), n=len(part), min_n=ctx.min_n,
                                   interval=(low, high), details=details))
    return rows


def _shift_row(ctx: _Context, explanation: Explanation, reference: _Reference) -> MetricRow:
    window = explanation.importance()
    shift = 1.0 - float(spearman(window[None, :], reference.importance)[0])
    draws = bootstrap_importance(np.abs(explanation.values), replicates=ctx.replicates,
                                 rng=make_rng(ctx.seed, "explain:attribution_shift"))
    estimate = shift if np.isfinite(shift) else None
    low, high, used = percentile_interval(1.0 - spearman(draws, reference.importance),
                                          estimate=estimate, confidence=ctx.confidence)
    top_window, top_reference = _top(ctx.features, window), _top(ctx.features, reference.importance)
    overlap = [f for f in top_window if f in top_reference]
    details = {**ctx.base, "spearman": None if estimate is None else 1.0 - shift,
               "top_window": top_window, "top_reference": top_reference,
               "top_overlap": overlap, "top_overlap_share": len(overlap) / max(len(top_window), 1),
               "importance_window": dict(zip(ctx.features, map(float, window))),
               "importance_reference": dict(zip(ctx.features, map(float, reference.importance))),
               "ci_method": "bootstrap over the window sample's rows (reference fixed)",
               "confidence": ctx.confidence, "bootstrap_valid": used}
    return figure_row(SHIFT, segment="all", value=shift, n=explanation.n, min_n=ctx.min_n,
                      interval=(low, high), details=details, undefined=SHIFT_UNDEFINED)


def spearman(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``rows`` ``[k, F]`` with ``reference`` ``[F]``
    (Pearson on average ranks, as scipy's ``spearmanr``); NaN where a side is constant."""
    from scipy.stats import rankdata

    a = rankdata(rows, axis=1)
    b = rankdata(reference)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean()
    scale = np.sqrt((a * a).sum(axis=1) * (b * b).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, (a @ b) / np.where(scale > 0, scale, 1.0), np.nan)


def _rank_order(importance: np.ndarray) -> list[int]:
    """1 for the most important feature, 2 for the next, ... (ties by feature order)."""
    order = np.argsort(-importance, kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks.tolist()


def _top(features: tuple[str, ...], importance: np.ndarray) -> list[str]:
    order = np.argsort(-importance, kind="stable")[:TOP_K]
    return [features[j] for j in order]
