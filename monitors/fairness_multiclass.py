"""Group fairness of a multiclass classifier (output_kind ``multiclass``), with
fairlearn's definitions, for each sensitive attribute and declared intersection.

- accuracy per group (``fairness.accuracy``, segment ``sex=Female``) and its
  ``_difference`` / ``_ratio`` (segment ``sex``), with ``fairness.group_size``;
- one-vs-rest per class (class ``c`` is the positive class, every other class the
  negative): per group ``fairness.selection_rate`` (share predicted ``c``),
  ``fairness.true_positive_rate`` and ``fairness.false_positive_rate`` (segment
  ``sex=Female&class=c``), and the disparities demographic parity, equalized odds,
  equal opportunity and each rate's difference and ratio (segment ``sex&class=c``);
- the worst class of each disparity (largest difference, smallest ratio over the
  classes that have a value), at segment ``sex`` with the class in
  ``details["class"]`` and every class's value in ``details["per_class"]``: what a
  policy with ``sensitive: "*"`` judges.

Everything comes from one (group x true class x predicted class) count table per
grouping (plus the unlabelled predictions per predicted class); its multinomial draws
give every class's bootstrap at once.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from raigov.monitors.base import MetricRow, WindowData
from raigov.monitors.counts import Grouping, group_rows, make_rng, multinomial_replicates
from raigov.monitors.fairness_binary import (DISPARITIES, FairnessContext, FairnessParams,
                                             disparity_rows, group_rate_rows, groupings,
                                             replicates_of)
from raigov.monitors.frame_columns import class_column
from raigov.monitors.base import MetricInfo

CLASS_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
CLASS_DISPARITIES = ("demographic_parity", "equalized_odds", "equal_opportunity",
                     *CLASS_RATES)
NO_CLASS_VALUE = "no class has a value for this disparity ({reasons})"
WORST = {"difference": max, "ratio": min}

#: The multiclass rows reuse the binary names (read one-vs-rest per class, the class in
#: the segment), so there are no names of their own.
MULTICLASS_FAIRNESS_METRICS: tuple[MetricInfo, ...] = ()


def joint_counts(codes: np.ndarray, n_groups: int, y: np.ndarray, pred: np.ndarray,
                 k: int) -> np.ndarray:
    """``(groups, k*k + k)``: labelled rows by (true, predicted) class, then the
    unlabelled rows by predicted class."""
    labelled = ~np.isnan(y)
    cell = np.where(labelled, np.nan_to_num(y) * k + pred, k * k + pred).astype(np.int64)
    width = k * k + k
    return np.bincount(codes * width + cell, minlength=n_groups * width).reshape(n_groups, width)


def one_vs_rest(joint: np.ndarray, c: int, k: int) -> np.ndarray:
    """The binary (tn, fp, fn, tp, unlabelled_neg, unlabelled_pos) cells of class ``c``
    from joint counts (any leading shape)."""
    conf = joint[..., :k * k].reshape(*joint.shape[:-1], k, k)
    unlabelled = joint[..., k * k:]
    tp = conf[..., c, c]
    fn = conf[..., c, :].sum(axis=-1) - tp
    fp = conf[..., :, c].sum(axis=-1) - tp
    tn = conf.sum(axis=(-2, -1)) - tp - fn - fp
    pos = unlabelled[..., c]
    return np.stack([tn, fp, fn, tp, unlabelled.sum(axis=-1) - pos, pos], axis=-1)


def correctness(joint: np.ndarray, k: int) -> np.ndarray:
    """Cells where accuracy = tp / labelled: (0, 0, wrong, right, unlabelled, 0)."""
    conf = joint[..., :k * k].reshape(*joint.shape[:-1], k, k)
    right = np.trace(conf, axis1=-2, axis2=-1)
    wrong = conf.sum(axis=(-2, -1)) - right
    zero = np.zeros_like(right)
    return np.stack([zero, zero, wrong, right, joint[..., k * k:].sum(axis=-1), zero], axis=-1)


def multiclass_fairness_rows(params: FairnessParams, window: WindowData) -> list[MetricRow]:
    classes = tuple(window.spec.classes)
    y = class_column(window.frame, "y_true", classes, required=False)
    pred = class_column(window.frame, "label", classes, required=True)
    rows: list[MetricRow] = []
    cache: dict[str, Grouping] = {}
    for columns in groupings(window.spec):
        grouping = group_rows(window.frame, columns, cache=cache)
        rows += _grouping_rows(params, window, grouping, classes, y, pred)
    return rows


def _grouping_rows(params: FairnessParams, window: WindowData, grouping: Grouping,
                   classes: tuple[str, ...], y: np.ndarray, pred: np.ndarray) -> list[MetricRow]:
    k = len(classes)
    joint = joint_counts(grouping.codes, len(grouping.values), y, pred, k)
    rng = make_rng(params.seed, f"fairness:{grouping.name}")
    draws = multinomial_replicates(joint, replicates=replicates_of(params, window), rng=rng)
    base = {"grouping": grouping, "min_n": window.spec.monitoring.min_group_size,
            "confidence": params.confidence}
    accuracy = FairnessContext(counts=correctness(joint, k), draws=correctness(draws, k), **base)
    rows = group_rate_rows(accuracy, ("accuracy",)) + disparity_rows(accuracy, "accuracy",
                                                                      ("accuracy",))
    per_class: list[MetricRow] = []
    for c, name in enumerate(classes):
        ctx = FairnessContext(counts=one_vs_rest(joint, c, k), draws=one_vs_rest(draws, c, k),
                              suffix={"class": name}, **base)
        per_class += group_rate_rows(ctx, CLASS_RATES, group_size=False)
        for disparity in CLASS_DISPARITIES:
            per_class += disparity_rows(ctx, disparity, DISPARITIES[disparity])
    return rows + per_class + _worst_class_rows(per_class, grouping.name)


def _worst_class_rows(per_class: list[MetricRow], attribute: str) -> list[MetricRow]:
    """For each disparity metric, the worst class's row at the attribute's segment."""
    prefix = f"{attribute}&class="
    by_metric: dict[str, dict[str, MetricRow]] = {}
    for row in per_class:
        if row.segment.startswith(prefix) and row.segment.count("=") == 1:
            by_metric.setdefault(row.metric, {})[row.segment[len(prefix):]] = row
    return [_worst(metric, rows, attribute) for metric, rows in by_metric.items()]


def _worst(metric: str, rows: dict[str, MetricRow], attribute: str) -> MetricRow:
    kind = metric.rsplit("_", 1)[1]
    per_class = {name: row.value for name, row in rows.items()}
    valued = {name: row for name, row in rows.items()
              if row.status == "ok" and row.value is not None}
    if not valued:
        reasons = "; ".join(sorted({str(r.details.get("reason")) for r in rows.values()}))
        return MetricRow(metric, None, segment=attribute,
                         n=max((r.n or 0) for r in rows.values()), status="insufficient_data",
                         details={"reason": NO_CLASS_VALUE.format(reasons=reasons),
                                  "per_class": per_class})
    name = WORST[kind](valued, key=lambda c: valued[c].value)
    details = {**valued[name].details, "class": name, "per_class": per_class,
               "summary": f"worst class ({kind})"}
    return replace(valued[name], segment=attribute, details=details)
