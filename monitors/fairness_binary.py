"""Group fairness of a binary classifier (output_kind ``binary``), with fairlearn's
definitions; the multiclass monitor reuses it one-vs-rest per class.

For each sensitive attribute (segment ``sex``) and each declared intersection
(``sex&race``): per-group selection rate, TPR, FPR, FNR, accuracy and group size
(segment ``sex=Female``), and the disparities between groups: demographic parity,
equalized odds, equal opportunity and the difference (largest minus smallest) and
ratio (smallest over largest) of each rate, as fairlearn's ``MetricFrame.difference``
/ ``ratio`` with ``method="between_groups"``.

Selection rate (and demographic parity) use every prediction in the window; the
label-based rates use the labelled rows. A group's ``n`` for a rate is that rate's
denominator (all its predictions, its labelled rows, its positives or its
negatives); a group with ``n < min_group_size`` is insufficient for that rate: its own
row says so, it is listed in the disparity row and left out of the difference and
ratio, never merged or dropped. With fewer than two sufficient groups a disparity has
no value. Per-group rates carry Wilson intervals; disparities a bootstrap interval
from multinomial draws of the (group x cell) count table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from raigov.models.spec import ModelSpec
from raigov.monitors.base import MetricRow, WindowData, segment_name
from raigov.monitors.counts import (RATE_ROWS, RATES, Grouping, cell_counts, figure_row,
                                    group_rows, make_rng, multinomial_replicates,
                                    percentile_interval, rate, row_cells, wilson_interval)

TOO_FEW_GROUPS = ("fewer than 2 groups have at least min_group_size {min_n} rows for "
                  "{rates}")
RATIO_UNDEFINED = "the largest group rate is 0, so the ratio is undefined"
GROUP_RATE_UNDEFINED = "the group has no {rows}"
BOOTSTRAP_SCHEME = ("multinomial over the (group x tn/fp/fn/tp/unlabelled) count cells; "
                    "the sufficient groups are those of the window")

# disparity -> the rates it compares (equalized odds: the worse of TPR and FPR)
DISPARITIES: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
    "equal_opportunity": ("true_positive_rate",),
    **{name: (name,) for name in RATES},
}


def _difference(values: np.ndarray) -> np.ndarray:
    """Largest minus smallest group rate (last axis), the worst over rates."""
    return (values.max(axis=-1) - values.min(axis=-1)).max(axis=-1)


def _ratio(values: np.ndarray) -> np.ndarray:
    """Smallest over largest group rate (last axis), the worst over rates."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values.min(axis=-1) / values.max(axis=-1)).min(axis=-1)


AGGREGATES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "difference": (_difference, ""),
    "ratio": (_ratio, RATIO_UNDEFINED),
}


class FairnessParams(BaseModel):
    """``bootstrap`` None takes the model's ``monitoring.bootstrap``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    bootstrap: int | None = Field(default=None, ge=0)
    seed: int = 0
    confidence: float = Field(default=0.95, gt=0, lt=1)


@dataclass(frozen=True)
class FairnessContext:
    """One grouping's (group x cell) count table and its bootstrap draws. ``suffix``
    (e.g. ``{"class": "Husband"}``) is appended to every segment the rows name."""

    grouping: Grouping
    counts: np.ndarray
    draws: np.ndarray
    min_n: int
    confidence: float
    suffix: dict[str, str] = field(default_factory=dict)

    def segment(self, group: int) -> str:
        return _suffixed(self.grouping.segment(group), self.suffix)

    @property
    def name(self) -> str:
        return _suffixed(self.grouping.name, self.suffix)


def _suffixed(segment: str, suffix: dict[str, str]) -> str:
    return segment if not suffix else f"{segment}&{segment_name(suffix)}"


def replicates_of(params: FairnessParams, window: WindowData) -> int:
    monitoring = window.spec.monitoring
    return monitoring.bootstrap if params.bootstrap is None else params.bootstrap


def binary_fairness_rows(params: FairnessParams, window: WindowData) -> list[MetricRow]:
    """Every binary fairness row for each sensitive attribute and intersection."""
    rows: list[MetricRow] = []
    cache: dict[str, Grouping] = {}
    for columns, grouping, counts in _count_tables(window, groupings(window.spec), cache):
        rng = make_rng(params.seed, f"fairness:{grouping.name}")
        draws = multinomial_replicates(counts, replicates=replicates_of(params, window),
                                       rng=rng)
        ctx = FairnessContext(grouping=grouping, counts=counts, draws=draws,
                              min_n=window.spec.monitoring.min_group_size,
                              confidence=params.confidence)
        rows += group_rate_rows(ctx)
        for name, rates in DISPARITIES.items():
            rows += disparity_rows(ctx, name, rates)
    return rows


def _count_tables(window: WindowData, combos: list[tuple[str, ...]],
                  cache: dict[str, Grouping]):
    """(columns, grouping, (group x cell) counts) per combination: from the window's
    rows, or from the cell table an aggregating engine computed."""
    if window.aggregates is not None:
        if not combos:
            return
        from raigov.monitors.window_aggregates import weighted_cell_counts

        table = window.aggregates.cell_table(list(dict.fromkeys(c for co in combos
                                                                for c in co)))
        for columns in combos:
            yield (columns, *weighted_cell_counts(table, columns, cache=cache))
        return
    cells = row_cells(window.frame)
    for columns in combos:
        grouping = group_rows(window.frame, columns, cache=cache)
        yield columns, grouping, cell_counts(cells, grouping)


def groupings(spec: ModelSpec) -> list[tuple[str, ...]]:
    """Each sensitive attribute alone, then each declared intersection."""
    combos = [(column,) for column in spec.sensitive]
    return list(dict.fromkeys(combos + [tuple(c) for c in spec.monitoring.intersections]))


def group_rate_rows(ctx: FairnessContext, rates: tuple[str, ...] = tuple(RATES), *,
                    group_size: bool = True) -> list[MetricRow]:
    """Each group's ``rates`` (and size) as rows of their own."""
    rows = []
    for group, counts in enumerate(ctx.counts):
        segment = ctx.segment(group)
        size = int(counts.sum())
        if group_size:
            rows.append(figure_row("fairness.group_size", segment=segment, value=float(size),
                                   n=size, min_n=ctx.min_n,
                                   details={"labelled": int(counts[:4].sum())}))
        for name in rates:
            numerator = RATES[name][0]
            value, trials = rate(counts, name)
            successes = float(counts[list(numerator)].sum())
            interval = wilson_interval(successes, float(trials), confidence=ctx.confidence)
            details = {"ci_method": "wilson", "confidence": ctx.confidence,
                       "successes": int(successes), "n_definition": RATE_ROWS[name]}
            rows.append(figure_row(f"fairness.{name}", segment=segment, value=float(value),
                                   n=int(trials), min_n=ctx.min_n, interval=interval,
                                   details=details,
                                   undefined=GROUP_RATE_UNDEFINED.format(rows=RATE_ROWS[name])))
    return rows


def disparity_rows(ctx: FairnessContext, name: str, rates: tuple[str, ...]) -> list[MetricRow]:
    values = np.stack([rate(ctx.counts, r)[0] for r in rates])
    sizes = np.stack([rate(ctx.counts, r)[1] for r in rates])
    sufficient = (sizes >= ctx.min_n).all(axis=0)
    base = _disparity_details(ctx, rates, values, sizes, sufficient)
    denominators = sorted(set().union(*(RATES[r][1] for r in rates)))
    n = int(ctx.counts[sufficient][:, denominators].sum())
    if sufficient.sum() < 2:
        reason = TOO_FEW_GROUPS.format(min_n=ctx.min_n, rates=", ".join(rates))
        return [MetricRow(metric=f"fairness.{name}_{kind}", value=None,
                          segment=ctx.name, n=n, status="insufficient_data",
                          details={**base, "reason": reason}) for kind in AGGREGATES]
    replicate_values = np.stack([rate(ctx.draws, r)[0] for r in rates], axis=-2)
    rows = []
    for kind, (aggregate, undefined) in AGGREGATES.items():
        value = float(aggregate(values[:, sufficient]))
        estimate = value if np.isfinite(value) else None
        low, high, used = percentile_interval(aggregate(replicate_values[..., sufficient]),
                                              estimate=estimate, confidence=ctx.confidence)
        details = {**base, "bootstrap_valid": used}
        rows.append(figure_row(f"fairness.{name}_{kind}", segment=ctx.name,
                               value=value, n=n, min_n=0, interval=(low, high),
                               details=details, undefined=undefined))
    return rows


def _disparity_details(ctx: FairnessContext, rates: tuple[str, ...], values: np.ndarray,
                       sizes: np.ndarray, sufficient: np.ndarray) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for group in range(len(ctx.grouping.values)):
        value = {r: _number(values[i, group]) for i, r in enumerate(rates)}
        size = {r: int(sizes[i, group]) for i, r in enumerate(rates)}
        one = len(rates) == 1
        groups[ctx.grouping.label(group)] = {
            "value": value[rates[0]] if one else value, "n": size[rates[0]] if one else size,
            "status": "ok" if sufficient[group] else "insufficient_data"}
    return {"groups": groups, "rates": list(rates), "method": "between_groups",
            "min_group_size": ctx.min_n,
            "insufficient_groups": [label for label, g in groups.items()
                                    if g["status"] != "ok"],
            "n_definition": "; ".join(f"{r}: {RATE_ROWS[r]}" for r in rates)
                            + " (sufficient groups only)",
            "ci_method": "bootstrap" if len(ctx.draws) else "none",
            "confidence": ctx.confidence, "bootstrap_replicates": len(ctx.draws),
            "bootstrap_scheme": BOOTSTRAP_SCHEME}


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
