"""The explain family's metric rows: importance per segment with bootstrap intervals,
the attribution shift against the reference, the completeness summary, and the rows
without a value that say why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from raigov.monitors.base import MetricRow, RowStatus
from raigov.monitors.counts import Grouping, figure_row, make_rng, percentile_interval

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec

    from raigov.monitors.attribution_methods import Attributions

SHIFT_UNDEFINED = ("the features' importances are all equal in the window or the reference "
                   "sample (or there are fewer than 2 features), so their rank correlation "
                   "is undefined")
TOP_K = 5
IMPORTANCE = "explain.importance.{feature}"
SHIFT = "explain.attribution_shift"


@dataclass(frozen=True)
class Context:
    features: tuple[str, ...]
    replicates: int
    confidence: float
    min_n: int
    seed: int
    base: dict[str, Any]


def failed_rows(spec: "ModelSpec", *, status: RowStatus, reason: str,
                details: dict[str, Any] | None = None) -> list[MetricRow]:
    """One row per metric (segment ``all``) without a value, saying why."""
    details = {**(details or {}), "reason": reason}
    names = [IMPORTANCE.format(feature=f) for f in spec.features] + [SHIFT]
    return [MetricRow(metric=name, value=None, status=status, details=dict(details))
            for name in names]


def completeness_summary(parts: Sequence["Attributions"], bound: np.ndarray,
                         targets: Sequence[str]) -> dict[str, Any]:
    """Largest and median completeness error over every explained row and output."""
    errors = np.concatenate([p.errors.reshape(-1) for p in parts if p.n] or [np.zeros(0)])
    return {"max_completeness_error": float(errors.max()) if errors.size else 0.0,
            "median_completeness_error": float(np.median(errors)) if errors.size else 0.0,
            "completeness_bound": dict(zip(targets, map(float, bound))),
            "completeness": "|baseline + sum of a row's attributions - the row's output|",
            "baseline": dict(zip(targets, map(float, parts[0].baseline)))}


def bootstrap_importance(abs_values: np.ndarray, *, replicates: int,
                         rng: np.random.Generator) -> np.ndarray:
    """``[replicates, n_features]`` mean |attribution| of rows resampled with
    replacement (multinomial row weights, so memory grows with rows, not rows x
    features)."""
    n = len(abs_values)
    if n == 0 or replicates == 0:
        return np.zeros((replicates, abs_values.shape[1]))
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates)
    return weights @ abs_values / n


def importance_rows(ctx: Context, values: np.ndarray, grouping: Grouping) -> list[MetricRow]:
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
            details = {**ctx.base, "rank": ranks[j],
                       "mean_attribution": float(part[:, j].mean()),
                       "ci_method": "bootstrap" if ctx.replicates else "none",
                       "confidence": ctx.confidence, "bootstrap_replicates": ctx.replicates}
            rows.append(figure_row(IMPORTANCE.format(feature=feature), segment=segment,
                                   value=float(importance[j]), n=len(part), min_n=ctx.min_n,
                                   interval=(low, high), details=details))
    return rows


def shift_row(ctx: Context, values: np.ndarray, reference: np.ndarray,
              found: "Attributions", ids: "pd.Series | None") -> MetricRow:
    window = np.abs(values).mean(axis=0)
    shift = 1.0 - float(spearman(window[None, :], reference)[0])
    draws = bootstrap_importance(np.abs(values), replicates=ctx.replicates,
                                 rng=make_rng(ctx.seed, "explain:attribution_shift"))
    estimate = shift if np.isfinite(shift) else None
    low, high, used = percentile_interval(1.0 - spearman(draws, reference),
                                          estimate=estimate, confidence=ctx.confidence)
    top_window, top_reference = _top(ctx.features, window), _top(ctx.features, reference)
    overlap = [f for f in top_window if f in top_reference]
    errors = found.decision_errors()
    per_row = (dict(zip(ids.tolist(), map(float, errors))) if ids is not None
               else list(map(float, errors)))
    details = {**ctx.base, "spearman": None if estimate is None else 1.0 - shift,
               "top_window": top_window, "top_reference": top_reference,
               "top_overlap": overlap, "top_overlap_share": len(overlap) / max(len(top_window), 1),
               "importance_window": dict(zip(ctx.features, map(float, window))),
               "importance_reference": dict(zip(ctx.features, map(float, reference))),
               "completeness_errors": per_row,
               "ci_method": "bootstrap over the window sample's rows (reference fixed)",
               "confidence": ctx.confidence, "bootstrap_valid": used}
    return figure_row(SHIFT, segment="all", value=shift, n=found.n, min_n=ctx.min_n,
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
