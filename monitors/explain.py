"""Feature attributions of a window's predictions, for any differentiable model.

For a seeded sample of ``spec.monitoring.explain_sample`` rows of the window, the
model's attribution method (``raigov.monitors.attribution_methods``: shap's
DeepExplainer where it is exact, integrated gradients otherwise) attributes the
network's raw output (logit, probability or value; per class for multiclass, see
``raigov.monitors.attribution_targets``) to each spec feature.

- ``explain.importance.<feature>``: mean |attribution| over the sample, on each row's
  decision (binary: the positive class; multiclass: the predicted class; regression:
  the value), segment ``all`` and per group of each sensitive attribute
  (``sex=Female``); for a multiclass model also per class (segment ``class=<name>``:
  mean |attribution| to that class's output over every sampled row). Bootstrap
  interval over the segment's rows; a segment smaller than ``min_group_size`` keeps its
  value with status ``insufficient_data``.
- ``explain.attribution_shift``: 1 - Spearman rank correlation between the window
  sample's importance and that of an independent seeded sample of the reference
  (0: same ranking, 1: unrelated, 2: reversed); details hold the top-5 features of each,
  their overlap and every explained row's completeness error by prediction id.

The reference sample's explanation is computed once per fitted method (kept with it in
the process, and on disk in the version's cache directory: ``explain_disk_cache``).
Every row's details report the method, the explained output, the completeness errors
(largest, median, the bound) and the cost per row. A row above its method's bound
turns every metric row into an error naming the count and the worst miss. A model whose
network reads token ids (a ``text_head``) is explained by token attributions instead:
``explain.importance.<token>`` rows per text column (segment ``column=<name>``) and per
group, when its ``monitoring.token_sample`` asks for them (``raigov.monitors.explain_tokens``).
A model that cannot run here (served elsewhere, no artifact) gives ``insufficient_data`` rows with
the reason; an artifact that cannot be loaded gives error rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raigov.errors import ConfigError, InputError
from raigov.models.spec import ModelSpec
from raigov.monitors.attribution_methods import AUTO, Attributions, Fitted, explain_frame
from raigov.monitors.attribution_targets import CLASS_COLUMN, EXPLAIN_TARGETS, explain_target
from raigov.monitors.base import MetricInfo, MetricRow, WindowData, register_monitor
from raigov.monitors.counts import Grouping, group_rows, overall_grouping
from raigov.monitors.explain_cache import artifact_key, cached_fit
from raigov.monitors.explain_disk_cache import load_reference, save_reference
from raigov.monitors.explain_model import SERVED_ELSEWHERE, TokenIdModel
from raigov.monitors.explain_rows import (Context, completeness_summary, failed_rows,
                                          importance_rows, shift_row, spearman)
from raigov.monitors.explain_tokens import text_rows
from raigov.monitors.shap_explainer import frame_fingerprint, sample_frame

EXPLAINER_UNAVAILABLE = "the model could not be loaded and explained: {error}"
NO_ROWS = "the window holds no predictions to explain"
NOTHING_FINITE = ("none of the {n} sampled predictions has finite network inputs (a "
                  "missing value fed as NaN cannot be put on an attribution path)")
INCOMPLETE = ("attributions do not add up to the model's output: {bad} of {n} explained "
              "rows miss by more than the bound (worst {error:.3g}, bound {bound:.3g}; "
              "method {method})")
UNSUPPORTED_OUTPUT_KIND = ("ExplainMonitor has no explained output for output_kind {kind!r} "
                           "of model {model!r} (kinds: {kinds}).")
__all__ = ["ExplainMonitor", "ExplainParams", "failed_rows", "spearman"]


class ExplainParams(BaseModel):
    """``sample_size`` None takes the model's ``monitoring.explain_sample``; ``bootstrap``
    None its ``monitoring.bootstrap``; ``device`` None the model's own (CUDA if any);
    ``method`` ``auto`` the model's (see ``raigov.monitors.attribution_methods``);
    ``top_tokens`` the words a text model's segment reports (``explain_tokens``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    background_size: int = Field(default=200, ge=1)
    sample_size: int | None = Field(default=None, ge=1)
    seed: int = 0
    bootstrap: int | None = Field(default=None, ge=0)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    device: Literal["cpu", "cuda"] | None = None
    method: str = AUTO
    top_tokens: int = Field(default=20, ge=1)


@dataclass(frozen=True)
class _Reference:
    """The reference sample's decision importance (cached with the fitted method)."""

    importance: np.ndarray
    attributions: Attributions


#: What the explain family emits (the metric catalog is made of these declarations).
DECLARED_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("explain.importance.<feature>", "mean |attribution| of one feature to the "
               "model's raw output (logit, probability or value; DeepExplainer or integrated "
               "gradients); segment all, per sensitive group and per class (class=<name>)", None),
    MetricInfo("explain.importance.<token>", "a text model: mean |attribution| of one word "
               "(word pieces summed) to the logit over a window's sampled texts, 0 where "
               "absent; the top words of segment column=<name> and of each group "
               "(column=<name>&<attribute>=<value>); n = rows holding the word", None),
    MetricInfo("explain.attribution_shift", "1 minus the Spearman rank agreement of feature "
               "importance between the window and the reference", False),
)

@register_monitor
class ExplainMonitor:
    family: ClassVar[str] = "explain"
    output_kinds: ClassVar[tuple[str, ...]] = tuple(EXPLAIN_TARGETS.names())
    metrics: ClassVar[tuple[MetricInfo, ...]] = DECLARED_METRICS

    def __init__(self, *, background_size: int = 200, sample_size: int | None = None,
                 seed: int = 0, bootstrap: int | None = None, confidence: float = 0.95,
                 device: Literal["cpu", "cuda"] | None = None, method: str = AUTO,
                 top_tokens: int = 20) -> None:
        self.params = ExplainParams(background_size=background_size, sample_size=sample_size,
                                    seed=seed, bootstrap=bootstrap, confidence=confidence,
                                    device=device, method=method, top_tokens=top_tokens)

    def run(self, window: WindowData) -> list[MetricRow]:
        spec, params = window.spec, self.params
        if spec.output_kind not in EXPLAIN_TARGETS:
            raise ConfigError(UNSUPPORTED_OUTPUT_KIND.format(
                kind=spec.output_kind, model=spec.name, kinds=EXPLAIN_TARGETS.names()))
        try:
            model, fitted = cached_fit(window.artifact_dir, spec, reference=window.reference,
                                       seed=params.seed, background_size=params.background_size,
                                       device=params.device, method=params.method)
        except (ConfigError, InputError) as exc:  # a broken artifact or an empty reference
            return failed_rows(spec, status="error",
                               reason=EXPLAINER_UNAVAILABLE.format(error=exc))
        if isinstance(model, TokenIdModel):
            return text_rows(window, model.loaded, reason=model.reason, params=params)
        if fitted is None:
            reason = getattr(model, "reason", SERVED_ELSEWHERE.format(model=spec.name))
            return failed_rows(spec, status="insufficient_data", reason=reason)
        if len(window.frame) == 0:
            return failed_rows(spec, status="insufficient_data", reason=NO_ROWS)
        size = params.sample_size or spec.monitoring.explain_sample
        sample = sample_frame(window.frame, size=size, seed=params.seed, key="explain:window")
        found = explain_frame(fitted, sample)
        if found.n == 0:
            return failed_rows(spec, status="insufficient_data",
                               reason=NOTHING_FINITE.format(n=len(sample)))
        reference = _reference_importance(fitted, window, size=size)
        ctx = self._context(spec, fitted, found, reference)
        failure = _incomplete(fitted, found, reference.attributions)
        if failure:
            return failed_rows(spec, status="error", reason=failure, details=ctx.base)
        explained = sample.iloc[found.kept]
        decision = found.decision_values()
        rows: list[MetricRow] = []
        for grouping in [overall_grouping(found.n)] + [
                group_rows(explained, [column]) for column in spec.sensitive]:
            rows += importance_rows(ctx, decision, grouping)
        for name, target in explain_target(spec).class_segments(spec):
            grouping = Grouping(columns=(CLASS_COLUMN,), codes=np.zeros(found.n, dtype=np.int64),
                                values=((name,),))
            rows += importance_rows(ctx, found.values[:, target, :], grouping)
        ids = explained["prediction_id"].astype(str) if "prediction_id" in explained else None
        return rows + [shift_row(ctx, decision, reference.importance, found, ids)]

    def _context(self, spec: ModelSpec, fitted: Fitted, found: Attributions,
                 reference: _Reference) -> Context:
        params, monitoring = self.params, spec.monitoring
        target = explain_target(spec)
        both = (found, reference.attributions)
        base = {**fitted.method.details(fitted), "output": target.unit(spec),
                "output_meaning": target.meaning(spec), "targets": list(target.names(spec)),
                "unit": f"mean |attribution| in {target.unit(spec)} units",
                "explained_rows": found.n, "skipped_rows": found.skipped,
                "reference_rows": reference.attributions.n,
                **completeness_summary(both, fitted.bound, target.names(spec)),
                "ms_per_row": round(1000 * found.seconds / max(found.n, 1), 3),
                "evaluations_per_row": found.evaluations, "device": fitted.model.device,
                "seed": params.seed}
        replicates = monitoring.bootstrap if params.bootstrap is None else params.bootstrap
        return Context(features=tuple(spec.features), replicates=replicates,
                       confidence=params.confidence, min_n=monitoring.min_group_size,
                       seed=params.seed, base=base)


def _reference_importance(fitted: Fitted, window: WindowData, *, size: int) -> _Reference:
    """Decision importance over an independent seeded sample of the reference, once per
    fitted method and sample size."""
    key = ("reference_importance", size)
    if key not in fitted.memo:
        disk_key = _disk_key(fitted, window, size=size)
        found = load_reference(window.cache_dir, disk_key)
        if found is None:
            rows = sample_frame(window.reference, size=size, seed=fitted.seed,
                                key="explain:reference")
            found = explain_frame(fitted, rows)
            save_reference(window.cache_dir, disk_key, found)
        fitted.memo[key] = _Reference(np.abs(found.decision_values()).mean(axis=0), found)
    return fitted.memo[key]


def _disk_key(fitted: Fitted, window: WindowData, *, size: int) -> dict[str, Any]:
    """What the reference explanation depends on (see ``explain_disk_cache``)."""
    import hashlib

    artifact = artifact_key(window.artifact_dir)
    return {"artifact": None if artifact is None else [list(s) for s in artifact[1]],
            "spec": hashlib.sha256(window.spec.model_dump_json().encode()).hexdigest(),
            "reference": frame_fingerprint(window.reference), "method": fitted.method.name,
            "background_size": fitted.background_size, "seed": fitted.seed,
            "device": str(fitted.model.device), "size": size}


def _incomplete(fitted: Fitted, *parts: Attributions) -> str:
    """The reason when some explained row misses its completeness bound, else ''."""
    bad = sum(int((~p.within_bound()).sum()) for p in parts)
    if not bad:
        return ""
    worst = max(float(p.errors.max()) if p.n else 0.0 for p in parts)
    return INCOMPLETE.format(bad=bad, n=sum(p.n for p in parts), error=worst,
                             bound=float(fitted.bound.max()), method=fitted.method.name)
