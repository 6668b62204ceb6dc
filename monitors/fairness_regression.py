"""Group fairness of a regression model (output_kind ``regression``), with fairlearn's
``MetricFrame`` definitions, for each sensitive attribute and declared intersection:

- per group (segment ``sex=Female``): ``fairness.group_size``,
  ``fairness.mean_prediction`` (every prediction, labelled or not), ``fairness.mae``
  and ``fairness.rmse`` (labelled rows);
- per attribute (segment ``sex``): each figure's ``_difference`` (largest minus
  smallest group value) and ``_ratio`` (smallest over largest), ``method=
  "between_groups"``; and ``fairness.bounded_group_loss``, the largest group **mean
  squared error** (fairlearn's ``BoundedGroupLoss`` with ``SquareLoss``: the constraint
  holds for a bound at least this large).

A group with fewer than ``monitoring.min_group_size`` rows for a figure (its rows for
the mean prediction, its labelled rows for the errors) is insufficient for it: its own
row says so, it is listed in the disparity's details and left out of the aggregate.
Intervals: a row bootstrap within each group (stratified; m-out-of-n above 10,000
rows, :mod:`raigov.monitors.resample`); disparities from the same replicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from raigov.monitors.base import MetricRow, WindowData
from raigov.monitors.counts import (Grouping, figure_row, group_rows, make_rng,
                                    percentile_interval)
from raigov.monitors.fairness_binary import (RATIO_UNDEFINED, TOO_FEW_GROUPS, FairnessParams,
                                             groupings, replicates_of)
from raigov.monitors.base import MetricInfo
from raigov.monitors.performance_regression import error_parts, regression_truth, split_rows
from raigov.monitors.resample import Resample, scheme

NO_ROWS = "the group has no {rows}"
LOSS = "squared error (fairlearn's SquareLoss); the value is the largest group mean"

Figure = Callable[[dict[str, np.ndarray]], np.ndarray]
# figure -> (function of the per-row parts over the last axis, rows meant)
FIGURES: dict[str, tuple[Figure, str]] = {
    "mean_prediction": (lambda parts: parts["pred"].mean(axis=-1), "predictions"),
    "mae": (lambda parts: parts["abs"].mean(axis=-1), "labelled rows"),
    "rmse": (lambda parts: np.sqrt(parts["squared"].mean(axis=-1)), "labelled rows"),
    "mse": (lambda parts: parts["squared"].mean(axis=-1), "labelled rows"),
}
REPORTED = ("mean_prediction", "mae", "rmse")

REGRESSION_FAIRNESS_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("fairness.mean_prediction", "regression, per group: mean predicted value", None),
    MetricInfo("fairness.mae", "regression, per group: mean absolute error", False, True),
    MetricInfo("fairness.rmse", "regression, per group: root mean squared error", False, True),
    *(MetricInfo(f"fairness.{name}_{kind}", f"regression: {meaning} {name} across groups",
                 kind == "ratio", name != "mean_prediction")
      for name in REPORTED for kind, meaning in (("difference", "largest minus smallest"),
                                                 ("ratio", "smallest over largest"))),
    MetricInfo("fairness.bounded_group_loss", "regression: the largest group mean squared "
               "error (fairlearn's BoundedGroupLoss with SquareLoss)", False, True),
)


@dataclass(frozen=True)
class _Group:
    label: str
    segment: str
    values: dict[str, float]        # figure -> value (NaN: undefined)
    sizes: dict[str, int]           # figure -> rows it is computed on
    replicates: dict[str, np.ndarray]


def regression_fairness_rows(params: FairnessParams, window: WindowData) -> list[MetricRow]:
    y, pred = regression_truth(window)
    everyone, labelled = np.arange(len(y)), np.flatnonzero(~np.isnan(y))
    min_n = window.spec.monitoring.min_group_size
    rows: list[MetricRow] = []
    cache: dict[str, Grouping] = {}
    for columns in groupings(window.spec):
        grouping = group_rows(window.frame, columns, cache=cache)
        groups = [_group(params, window, grouping, g, y, pred, members, known)
                  for g, (members, known) in enumerate(zip(split_rows(grouping, everyone),
                                                           split_rows(grouping, labelled)))]
        rows += [row for group in groups for row in _group_rows(params, group, min_n)]
        rows += [row for name in REPORTED
                 for row in _disparity_rows(params, grouping.name, groups, name, min_n)]
        rows.append(_bounded_loss_row(params, grouping.name, groups, min_n))
    return rows


def _group(params: FairnessParams, window: WindowData, grouping: Grouping, g: int,
           y: np.ndarray, pred: np.ndarray, members: np.ndarray, known: np.ndarray) -> _Group:
    segment = grouping.segment(g)
    rng = make_rng(params.seed, f"fairness:{segment}")
    replicates = replicates_of(params, window)
    values, sizes, draws = {}, {}, {}
    for rows_of, names in ((members, ("mean_prediction",)), (known, ("mae", "rmse", "mse"))):
        sample = Resample.draw(len(rows_of), replicates=replicates, rng=rng)
        parts = ({"pred": pred[rows_of]} if "mean_prediction" in names else
                 {k: v for k, v in error_parts(y[rows_of], pred[rows_of]).items()
                  if k in ("abs", "squared")})
        drawn, centre = sample.take({k: v for k, v in parts.items() if k != "squared"})
        if "abs" in drawn:
            drawn["squared"] = drawn["abs"] * drawn["abs"]
            centre["squared"] = centre["abs"] * centre["abs"]
        for name in names:
            figure = FIGURES[name][0]
            value = float(figure(parts)) if len(rows_of) else float("nan")
            values[name], sizes[name] = value, len(rows_of)
            draws[name] = (sample.rescaled(figure(drawn), value, float(figure(centre)))
                           if len(rows_of)
                           else np.full(replicates, np.nan))
    return _Group(grouping.label(g), segment, values, sizes, draws)


def _group_rows(params: FairnessParams, group: _Group, min_n: int) -> list[MetricRow]:
    rows = [figure_row("fairness.group_size", segment=group.segment,
                       value=float(group.sizes["mean_prediction"]),
                       n=group.sizes["mean_prediction"], min_n=min_n,
                       details={"labelled": group.sizes["mae"]})]
    for name in REPORTED:
        value = group.values[name]
        low, high, used = percentile_interval(group.replicates[name],
                                              estimate=value if np.isfinite(value) else None,
                                              confidence=params.confidence)
        details = {**_bootstrap(params, used), "n_definition": FIGURES[name][1]}
        rows.append(figure_row(f"fairness.{name}", segment=group.segment, value=value,
                               n=group.sizes[name], min_n=min_n, interval=(low, high),
                               details=details,
                               undefined=NO_ROWS.format(rows=FIGURES[name][1])))
    return rows


def _bootstrap(params: FairnessParams, used: int) -> dict[str, Any]:
    return {"ci_method": "bootstrap", "confidence": params.confidence,
            "bootstrap_valid": used, "bootstrap_scheme": scheme() + ", within each group"}


def _difference(values: np.ndarray) -> np.ndarray:
    return values.max(axis=-1) - values.min(axis=-1)


def _ratio(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return values.min(axis=-1) / values.max(axis=-1)


def _disparity_rows(params: FairnessParams, attribute: str, groups: list[_Group], name: str,
                    min_n: int) -> list[MetricRow]:
    sufficient = [g for g in groups if g.sizes[name] >= min_n and np.isfinite(g.values[name])]
    details = _details(params, groups, name, min_n, sufficient)
    n = sum(g.sizes[name] for g in sufficient)
    if len(sufficient) < 2:
        reason = TOO_FEW_GROUPS.format(min_n=min_n, rates=name)
        return [MetricRow(f"fairness.{name}_{kind}", None, segment=attribute, n=n,
                          status="insufficient_data", details={**details, "reason": reason})
                for kind in ("difference", "ratio")]
    values = np.array([g.values[name] for g in sufficient])
    draws = np.stack([g.replicates[name] for g in sufficient], axis=-1)
    rows = []
    for kind, aggregate, undefined in (("difference", _difference, ""),
                                       ("ratio", _ratio, RATIO_UNDEFINED)):
        value = float(aggregate(values))
        low, high, used = percentile_interval(aggregate(draws),
                                              estimate=value if np.isfinite(value) else None,
                                              confidence=params.confidence)
        rows.append(figure_row(f"fairness.{name}_{kind}", segment=attribute, value=value, n=n,
                               min_n=0, interval=(low, high),
                               details={**details, **_bootstrap(params, used)},
                               undefined=undefined))
    return rows


def _details(params: FairnessParams, groups: list[_Group], name: str, min_n: int,
             sufficient: list[_Group]) -> dict[str, Any]:
    ok = {g.label for g in sufficient}
    table = {g.label: {"value": g.values[name] if np.isfinite(g.values[name]) else None,
                       "n": g.sizes[name],
                       "status": "ok" if g.label in ok else "insufficient_data"}
             for g in groups}
    return {"groups": table, "method": "between_groups", "min_group_size": min_n,
            "insufficient_groups": [label for label in table if label not in ok],
            "n_definition": f"{FIGURES[name][1]} (sufficient groups only)"}


def _bounded_loss_row(params: FairnessParams, attribute: str, groups: list[_Group],
                      min_n: int) -> MetricRow:
    sufficient = [g for g in groups if g.sizes["mse"] >= min_n and np.isfinite(g.values["mse"])]
    details = {**_details(params, groups, "mse", min_n, sufficient), "loss": LOSS}
    n = sum(g.sizes["mse"] for g in sufficient)
    if not sufficient:
        reason = f"no group has at least min_group_size {min_n} labelled rows"
        return MetricRow("fairness.bounded_group_loss", None, segment=attribute, n=n,
                         status="insufficient_data", details={**details, "reason": reason})
    worst = max(sufficient, key=lambda g: g.values["mse"])
    draws = np.stack([g.replicates["mse"] for g in sufficient], axis=-1).max(axis=-1)
    low, high, used = percentile_interval(draws, estimate=worst.values["mse"],
                                          confidence=params.confidence)
    return figure_row("fairness.bounded_group_loss", segment=attribute,
                      value=worst.values["mse"], n=n, min_n=0, interval=(low, high),
                      details={**details, **_bootstrap(params, used), "worst_group": worst.label},
                      undefined="")
