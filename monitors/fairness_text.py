"""Bias AUCs of a binary classifier over groups that a text mentions (Borkan et al.
2019, "Nuanced Metrics for Measuring Unintended Bias with Real Data for Text
Classification"), emitted by the fairness family for a model whose text column names
``identity_terms``.

The attributes are each such column's identity groups (``review_mentions``, one group
per membership column, overlapping: a text may mention several) and each declared
sensitive attribute sent with the request (``sex``, one group per value). On the
window's labelled rows, for each group (segment ``review_mentions=muslim``), with the
background being the labelled rows outside the group:

- ``fairness.subgroup_auc``: ROC AUC on the group's rows;
- ``fairness.bpsn_auc`` (background positive, subgroup negative): on the background's
  positives and the group's negatives;
- ``fairness.bnsp_auc`` (background negative, subgroup positive): on the background's
  negatives and the group's positives;

and per attribute (segment ``review_mentions``) ``fairness.generalized_mean_bias_auc``:
the power mean ``(mean_g auc_g ** p) ** (1 / p)`` with ``p = -5`` of each of the three
over the attribute's sufficient groups, averaged with equal weights (the Jigsaw
Unintended Bias challenge's combination, without its overall-AUC term; the three power
means are in details).

A group with fewer than ``min_group_size`` labelled rows is insufficient (value kept,
status ``insufficient_data``) and left out of the power mean; an AUC whose row set lacks
a class has no value. Intervals: percentile bootstrap over the labelled rows
(multinomial weights, seeded per attribute), the same replicates for every group of the
attribute; AUCs are computed from score ranks with ties counted half, as scikit-learn's
``roc_auc_score``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from raigov.models.identity_terms import memberships, mentions
from raigov.models.spec import ModelSpec
from raigov.monitors.base import MetricInfo, MetricRow, WindowData
from raigov.monitors.counts import figure_row, make_rng, percentile_interval

POWER = -5.0
BIAS_AUCS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")
SMALL_GROUP = "the group has {n} labelled rows, fewer than min_group_size {min_n}"
ONE_CLASS = "the row set ({rows}) holds only one class, so the AUC is undefined"
NO_SUFFICIENT_GROUP = ("no group of {attribute} has at least min_group_size {min_n} "
                       "labelled rows and both classes in every row set")
ROW_SETS = {"subgroup_auc": "the group's labelled rows",
            "bpsn_auc": "background positives and subgroup negatives",
            "bnsp_auc": "background negatives and subgroup positives"}

TEXT_FAIRNESS_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("fairness.subgroup_auc", "per group: ROC AUC on the rows of the group "
               "(Borkan et al. 2019; text models with identity_terms)", True, True),
    MetricInfo("fairness.bpsn_auc", "per group: ROC AUC on background positives and "
               "subgroup negatives (low: the group's negatives scored too high)", True, True),
    MetricInfo("fairness.bnsp_auc", "per group: ROC AUC on background negatives and "
               "subgroup positives (low: the group's positives scored too low)", True, True),
    MetricInfo("fairness.generalized_mean_bias_auc", "per attribute: the power mean "
               "(p = -5) of each bias AUC over the groups, averaged", True, True),
    MetricInfo("fairness.counterfactual_gap", "per group (probes, raigov probe): mean "
               "score of template sentences naming the group minus the all-groups mean on "
               "the same templates (0: the identity term changes nothing)"),
)
PROBE_METRIC = TEXT_FAIRNESS_METRICS[-1]


@dataclass(frozen=True)
class BiasAttribute:
    """One attribute's groups as boolean masks over the labelled rows."""

    name: str
    groups: dict[str, np.ndarray]


def has_identity_terms(spec: ModelSpec) -> bool:
    return bool(memberships(spec))


def bias_attributes(spec: ModelSpec, frame: pd.DataFrame) -> list[BiasAttribute]:
    """The identity attributes of each text column, then each sensitive attribute."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for m in memberships(spec):
        out.setdefault(m.attribute, {})[m.group] = member_mask(frame, m.name, m.column, m.terms)
    for column in spec.sensitive:
        values = frame[column]
        out[column] = {str(v): (values == v).to_numpy(bool)
                       for v in sorted(values.dropna().unique(), key=str)}
    return [BiasAttribute(name, groups) for name, groups in out.items()]


def member_mask(frame: pd.DataFrame, name: str, column: str,
                terms: tuple[str, ...]) -> np.ndarray:
    """The captured membership column; rows without it (captured before the terms were
    declared, or read from a file) are derived from their text."""
    derived = mentions(frame[column], terms)
    if name not in frame.columns:
        return derived
    captured = frame[name]
    return np.where(captured.isna().to_numpy(), derived,
                    captured.fillna(False).to_numpy(bool))


def row_sets(member: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Borkan et al.'s row set of each bias AUC, as masks."""
    pos = y == 1
    return {"subgroup_auc": member,
            "bpsn_auc": (~member & pos) | (member & ~pos),
            "bnsp_auc": (~member & ~pos) | (member & pos)}


def weighted_auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC with row weights (last axis; leading axes are replicates): the weighted
    share of (positive, negative) pairs ranked right, ties counted half. NaN where a
    class has no weight."""
    if len(scores) == 0:
        return np.full(np.shape(weights)[:-1], np.nan)
    order = np.argsort(scores, kind="mergesort")
    s, pos = scores[order], (y[order] == 1)
    w = np.asarray(weights, dtype=float)[..., order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    p = np.add.reduceat(w * pos, starts, axis=-1)
    n = np.add.reduceat(w * ~pos, starts, axis=-1)
    below = np.cumsum(n, axis=-1) - n
    total = p.sum(axis=-1) * n.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (p * (below + 0.5 * n)).sum(axis=-1) / total, np.nan)


def power_mean(values: np.ndarray, p: float = POWER) -> np.ndarray:
    """Generalized mean over the last axis."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.mean(values ** p, axis=-1) ** (1.0 / p)


def bias_auc_rows(params: Any, window: WindowData) -> list[MetricRow]:
    """Every bias-AUC row of the window (none for a model without identity terms)."""
    spec = window.spec
    if not has_identity_terms(spec):
        return []
    frame = window.labelled
    frame = frame[frame["score"].notna()]
    scores = frame["score"].to_numpy(float)
    y = frame["y_true"].to_numpy(float).astype(int)
    replicates = spec.monitoring.bootstrap if params.bootstrap is None else params.bootstrap
    rows: list[MetricRow] = []
    for attribute in bias_attributes(spec, frame):
        rng = make_rng(params.seed, f"bias_auc:{attribute.name}")
        draws = (rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=replicates)
                 if replicates and len(y) else np.zeros((0, len(y))))
        rows += _attribute_rows(attribute, scores, y, draws, spec.monitoring.min_group_size,
                                params.confidence)
    return rows


def _attribute_rows(attribute: BiasAttribute, scores: np.ndarray, y: np.ndarray,
                    draws: np.ndarray, min_n: int, confidence: float) -> list[MetricRow]:
    rows, values, reps = [], {k: [] for k in BIAS_AUCS}, {k: [] for k in BIAS_AUCS}
    for group, member in attribute.groups.items():
        segment = f"{attribute.name}={group}"
        size = int(member.sum())
        sufficient = size >= min_n
        for kind, mask in row_sets(member, y).items():
            value = float(weighted_auc(scores[mask], y[mask], np.ones(int(mask.sum()))))
            boot = weighted_auc(scores[mask], y[mask], draws[:, mask])
            rows.append(_auc_row(kind, segment, value, boot, mask, member, y, size, min_n,
                                 confidence))
            if sufficient and np.isfinite(value):
                values[kind].append(value)
                reps[kind].append(boot)
    rows.append(_mean_row(attribute, values, reps, len(y), min_n, confidence))
    return rows


def _auc_row(kind: str, segment: str, value: float, boot: np.ndarray, mask: np.ndarray,
             member: np.ndarray, y: np.ndarray, size: int, min_n: int,
             confidence: float) -> MetricRow:
    estimate = value if np.isfinite(value) else None
    low, high, used = percentile_interval(boot, estimate=estimate, confidence=confidence)
    details = {"row_set": ROW_SETS[kind], "subgroup_rows": size,
               "background_rows": int((~member).sum()), "positives": int(y[mask].sum()),
               "negatives": int((1 - y[mask]).sum()), "min_group_size": min_n,
               "ci_method": "bootstrap" if len(boot) else "none", "confidence": confidence,
               "bootstrap_replicates": len(boot), "bootstrap_valid": used}
    row = figure_row(f"fairness.{kind}", segment=segment, value=value, n=int(mask.sum()),
                     min_n=0, interval=(low, high), details=details,
                     undefined=ONE_CLASS.format(rows=ROW_SETS[kind]))
    if row.status == "ok" and size < min_n:
        row = replace(row, status="insufficient_data", details={
            **details, "reason": SMALL_GROUP.format(n=size, min_n=min_n)})
    return row


def _mean_row(attribute: BiasAttribute, values: dict[str, list[float]],
              reps: dict[str, list[np.ndarray]], n: int, min_n: int,
              confidence: float) -> MetricRow:
    details: dict[str, Any] = {"power": POWER, "min_group_size": min_n,
                               "combination": "equal-weight mean of the three power means"}
    if not all(values.values()):
        details["reason"] = NO_SUFFICIENT_GROUP.format(attribute=attribute.name, min_n=min_n)
        return MetricRow(metric="fairness.generalized_mean_bias_auc", value=None,
                         segment=attribute.name, n=n, status="insufficient_data",
                         details=details)
    means = {k: float(power_mean(np.array(v))) for k, v in values.items()}
    boot = np.mean([power_mean(np.stack(r, axis=-1)) for r in reps.values()], axis=0) \
        if all(len(r) and len(r[0]) for r in reps.values()) else np.zeros(0)
    value = float(np.mean(list(means.values())))
    low, high, used = percentile_interval(np.asarray(boot), estimate=value,
                                          confidence=confidence)
    details.update({f"power_mean_{k}": v for k, v in means.items()})
    details.update({"groups_used": {k: len(v) for k, v in values.items()},
                    "bootstrap_replicates": int(np.size(boot)), "bootstrap_valid": used,
                    "confidence": confidence})
    return figure_row("fairness.generalized_mean_bias_auc", segment=attribute.name,
                      value=value, n=n, min_n=0, interval=(low, high),
                      details=details)
