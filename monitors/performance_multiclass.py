"""Performance of a multiclass classifier (output_kind ``multiclass``), with
scikit-learn's definitions, for ``all`` and each sensitive group.

From the window frame: ``label`` (predicted class index), ``score`` (P(predicted
class)), ``probabilities`` (P(class) per row in ``spec.classes`` order) and ``y_true``
(true class index, NaN: no label yet). Per segment:

- ``performance.accuracy`` and ``performance.top_k_accuracy`` (the true class among the
  ``k`` most probable; ``k`` is ``monitoring.top_k``, default 2 for three classes and 3
  for more; ties rank the higher class index first, as scikit-learn's
  ``top_k_accuracy_score``): proportions with Wilson intervals;
- ``performance.{precision,recall,f1}_{macro,weighted}``: scikit-learn's averages over the
  classes present in the segment's true or predicted labels, an undefined per-class
  precision or recall counting 0 (``zero_division=0``); weighted by each class's support;
- per class (segment ``class=<name>``, or ``sex=Female&class=<name>``):
  ``performance.precision`` and ``performance.recall`` (Wilson) and ``performance.f1``;
- ``performance.log_loss`` (mean of -log P(true class), clipped to [eps, 1 - eps] as
  scikit-learn does) and ``performance.ece``, the top-label expected calibration error:
  confidence ``score`` against whether ``label`` is the true class, in 10 equal-width
  bins (Guo et al. 2017). Both need the row's probabilities.

Intervals of the averages and F1: bootstrap by multinomial draws of the segment's
K x K confusion table (exactly a row bootstrap); log loss and ECE: the binary monitor's
score-cell scheme on (confidence, correct).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raigov.monitors.base import MetricRow, WindowData
from raigov.monitors.counts import (Grouping, figure_row, make_rng, multinomial_replicates,
                                    percentile_interval, wilson_interval)
from raigov.monitors.frame_columns import class_column, probability_matrix
from raigov.monitors.base import MetricInfo
from raigov.monitors.performance_binary import ScoredRows, SegmentContext, score_row
from raigov.monitors.performance_common import (NO_LABELS, Settings, bootstrap_details,
                                                finite, segment_groupings, with_class)

NO_PREDICTED = "no labelled row is predicted {name!r}, so its precision is undefined"
NO_TRUE = "no labelled row has true class {name!r}, so its recall is undefined"
NO_CLASS_ROWS = "no labelled row is {name!r} or predicted {name!r}, so its F1 is undefined"
NO_PROBABILITIES = "no labelled row of the segment has class probabilities"
CONFUSION_LAYOUT = "rows: true class, columns: predicted class, in classes order"
CONFUSION_SCHEME = "multinomial over the K x K confusion cells (a row bootstrap)"
AVERAGING = ("scikit-learn's average over the classes present in y_true or the predictions, "
             "zero_division=0")
AVERAGES = ("macro", "weighted")
FIGURES = ("precision", "recall", "f1")

MULTICLASS_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("performance.top_k_accuracy", "multiclass: share of labelled rows whose true "
               "class is among the k most probable (k in details: monitoring.top_k, default "
               "2 for three classes, else 3)", True, True),
    *(MetricInfo(f"performance.{figure}_{average}", f"multiclass: {figure} averaged over the "
                 f"classes ({'unweighted' if average == 'macro' else 'weighted by support'}; "
                 "scikit-learn's definition)", True, True)
      for figure in FIGURES for average in AVERAGES),
)


def top_k(spec_k: int | None, n_classes: int) -> int:
    """``monitoring.top_k``, or the default: 2 for three classes, 3 for more."""
    return spec_k if spec_k is not None else (2 if n_classes <= 3 else 3)


def top_k_hits(proba: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """1.0 where the true class is among the ``k`` most probable, NaN where unknown.
    Ties: the higher class index ranks first (scikit-learn's stable argsort, reversed)."""
    n, n_classes = proba.shape
    known = ~np.isnan(y) & np.isfinite(proba).all(axis=1)
    hits = np.full(n, np.nan)
    rows = np.flatnonzero(known)
    truth = y[rows].astype(np.int64)
    p = proba[rows]
    p_true = p[np.arange(rows.size), truth][:, None]
    above = (p > p_true).sum(axis=1)
    tied_after = ((p == p_true) & (np.arange(n_classes)[None, :] > truth[:, None])).sum(axis=1)
    hits[rows] = (above + tied_after < k).astype(float)
    return hits


def class_figures(conf: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall and F1 (NaN where undefined) over the last two axes of
    confusion tables ``[..., true, predicted]``, with supports and presence."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1).astype(float)
    predicted, true = conf.sum(axis=-2).astype(float), conf.sum(axis=-1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"precision": np.where(predicted > 0, tp / predicted, np.nan),
                "recall": np.where(true > 0, tp / true, np.nan),
                "f1": np.where(predicted + true > 0, 2 * tp / (predicted + true), np.nan),
                "support": true, "present": (predicted + true) > 0}


def averaged(figures: dict[str, np.ndarray], figure: str, average: str) -> np.ndarray:
    """scikit-learn's macro or weighted average of one figure (last axis: classes)."""
    values = np.nan_to_num(figures[figure]) * figures["present"]
    weights = figures["present"] if average == "macro" else figures["support"]
    total = weights.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (values * weights).sum(axis=-1) / total, np.nan)


def multiclass_performance_rows(settings: Settings, window: WindowData) -> list[MetricRow]:
    spec, frame = window.spec, window.frame
    classes = tuple(spec.classes)
    y = class_column(frame, "y_true", classes, required=False)
    pred = class_column(frame, "label", classes, required=True)
    proba = probability_matrix(frame, classes)
    k = top_k(spec.monitoring.top_k, len(classes))
    hits = top_k_hits(proba, y, k)
    scored = _scored_rows(settings, frame, y, pred, proba)
    rows: list[MetricRow] = []
    for grouping in segment_groupings(window):
        rows += _grouping_rows(settings, grouping, classes, y, pred, hits, k, scored)
    return rows


def _scored_rows(settings: Settings, frame, y: np.ndarray, pred: np.ndarray,
                 proba: np.ndarray) -> ScoredRows:
    """(confidence, correct) as binary score cells; loss: -log P(true class)."""
    labelled = ~np.isnan(y)
    cells = np.where(labelled, 2 * (pred == y), 4).astype(np.int64)
    eps = np.finfo(float).eps
    truth = np.where(labelled, np.nan_to_num(y), 0).astype(np.int64)
    p_true = proba[np.arange(len(y)), truth] if len(y) else np.zeros(0)
    loss = -np.log(np.clip(p_true, eps, 1 - eps))
    return ScoredRows.build(frame, cells, ece_bins=settings.ece_bins,
                            score_bins=settings.score_bins, loss=loss)


def _grouping_rows(settings: Settings, grouping: Grouping, classes: tuple[str, ...],
                   y: np.ndarray, pred: np.ndarray, hits: np.ndarray, k: int,
                   scored: ScoredRows) -> list[MetricRow]:
    n_groups, n_classes = len(grouping.values), len(classes)
    labelled = ~np.isnan(y)
    key = (grouping.codes[labelled] * n_classes + y[labelled].astype(np.int64)) * n_classes
    conf = np.bincount(key + pred[labelled].astype(np.int64),
                       minlength=n_groups * n_classes * n_classes)
    conf = conf.reshape(n_groups, n_classes, n_classes)
    known = ~np.isnan(hits)
    hit_sum = np.bincount(grouping.codes[known], weights=hits[known], minlength=n_groups)
    hit_n = np.bincount(grouping.codes[known], minlength=n_groups)
    rows: list[MetricRow] = []
    for group, cells in enumerate(scored.split(grouping)):
        segment = grouping.segment(group)
        ctx = SegmentContext(segment=segment, min_n=settings.min_n,
                             confidence=settings.confidence, replicates=settings.replicates,
                             settings=settings, rng=make_rng(settings.seed, f"performance:{segment}"),
                             common={}, no_labels=bool(conf[group].sum() == 0))
        rows += _confusion_rows(ctx, conf[group], classes)
        rows.append(_top_k_row(ctx, float(hit_sum[group]), int(hit_n[group]), k))
        draws = multinomial_replicates(cells.counts, replicates=settings.replicates, rng=ctx.rng)
        noise = ctx.rng.standard_normal((2, *draws.shape))
        rows += [_probability_row(score_row(ctx, name, cells, draws=draws, noise=noise))
                 for name in ("log_loss", "ece")]
    return rows


def _probability_row(row: MetricRow) -> MetricRow:
    if row.status == "insufficient_data" and row.details.get("reason") != NO_LABELS:
        row.details["reason"] = NO_PROBABILITIES
    row.details["n_definition"] = "labelled rows with class probabilities"
    return row


def _confusion_rows(ctx: SegmentContext, conf: np.ndarray,
                    classes: tuple[str, ...]) -> list[MetricRow]:
    labelled, correct = int(conf.sum()), int(np.trace(conf))
    common = {"confusion_matrix": conf.tolist(), "confusion_matrix_layout": CONFUSION_LAYOUT,
              "classes": list(classes)}
    interval = wilson_interval(correct, labelled, confidence=ctx.confidence)
    rows = [figure_row("performance.accuracy", segment=ctx.segment,
                       value=correct / labelled if labelled else None, n=labelled,
                       min_n=ctx.min_n, interval=interval, undefined=NO_LABELS,
                       details={"ci_method": "wilson", "confidence": ctx.confidence,
                                "successes": correct, "n_definition": "labelled rows",
                                **common})]
    draws = multinomial_replicates(conf, replicates=ctx.replicates, rng=ctx.rng)
    figures, replicate_figures = class_figures(conf), class_figures(draws)
    for figure in FIGURES:
        for average in AVERAGES:
            rows.append(_average_row(ctx, figure, average, figures, replicate_figures,
                                     labelled))
    for c, name in enumerate(classes):
        rows += _class_rows(ctx, conf, c, name, figures, replicate_figures)
    return rows


def _average_row(ctx: SegmentContext, figure: str, average: str,
                 figures: dict[str, np.ndarray], replicates: dict[str, np.ndarray],
                 labelled: int) -> MetricRow:
    value = float(averaged(figures, figure, average))
    low, high, used = percentile_interval(averaged(replicates, figure, average),
                                          estimate=finite(value), confidence=ctx.confidence)
    details = {**bootstrap_details(ctx.settings, used, CONFUSION_SCHEME),
               "averaging": AVERAGING, "n_definition": "labelled rows"}
    return figure_row(f"performance.{figure}_{average}", segment=ctx.segment, value=value,
                      n=labelled, min_n=ctx.min_n, interval=(low, high), details=details,
                      undefined=NO_LABELS)


def _class_rows(ctx: SegmentContext, conf: np.ndarray, c: int, name: str,
                figures: dict[str, np.ndarray], replicates: dict[str, np.ndarray]) -> list[MetricRow]:
    segment = with_class(ctx.segment, name)
    tp, predicted, true = int(conf[c, c]), int(conf[:, c].sum()), int(conf[c].sum())
    reason = (lambda text: NO_LABELS if ctx.no_labels else text.format(name=name))
    rows = []
    for figure, trials, undefined, rows_meant in (
            ("precision", predicted, NO_PREDICTED, f"labelled rows predicted {name!r}"),
            ("recall", true, NO_TRUE, f"labelled rows with true class {name!r}")):
        interval = wilson_interval(tp, trials, confidence=ctx.confidence)
        details = {"ci_method": "wilson", "confidence": ctx.confidence, "successes": tp,
                   "n_definition": rows_meant, "class": name}
        rows.append(figure_row(f"performance.{figure}", segment=segment,
                               value=float(figures[figure][c]), n=trials, min_n=ctx.min_n,
                               interval=interval, details=details, undefined=reason(undefined)))
    value = float(figures["f1"][c])
    low, high, used = percentile_interval(replicates["f1"][:, c], estimate=finite(value),
                                          confidence=ctx.confidence)
    details = {**bootstrap_details(ctx.settings, used, CONFUSION_SCHEME), "class": name,
               "n_definition": f"labelled rows that are or are predicted {name!r}"}
    rows.append(figure_row("performance.f1", segment=segment, value=value,
                           n=predicted + true - tp, min_n=ctx.min_n, interval=(low, high),
                           details=details, undefined=reason(NO_CLASS_ROWS)))
    return rows


def _top_k_row(ctx: SegmentContext, hits: float, n: int, k: int) -> MetricRow:
    interval = wilson_interval(hits, n, confidence=ctx.confidence)
    details = {"ci_method": "wilson", "confidence": ctx.confidence, "successes": int(hits),
               "k": k, "n_definition": "labelled rows with class probabilities"}
    undefined = NO_LABELS if ctx.no_labels else NO_PROBABILITIES
    return figure_row("performance.top_k_accuracy", segment=ctx.segment,
                      value=hits / n if n else None, n=n, min_n=ctx.min_n,
                      interval=interval, details=details, undefined=undefined)
