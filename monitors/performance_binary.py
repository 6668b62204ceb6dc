"""Performance of a binary classifier (output_kind ``binary``) on the rows whose ground truth has arrived.

Overall (segment ``all``) and per group of each sensitive attribute (``sex=Female``):
accuracy, precision, recall, F1, ROC AUC, log loss, expected calibration error and the
positive rate (on every prediction, labelled or not). Everything comes from counts:
confusion cells (``raigov.monitors.counts``) and *score cells* (labelled rows put into ~200
score-quantile bins nested in the ECE bins, split by ``y_true``), so the figures equal
scikit-learn's and 200 bootstrap replicates cost milliseconds on a 1M-row window.

Confidence intervals: Wilson for the proportions (accuracy, precision, recall,
positive rate); bootstrap otherwise. F1's bootstrap draws the four confusion cells
(exactly a row bootstrap). ROC AUC, log loss and ECE draw the score cells; within a
cell a replicate keeps the cell's own pair order (AUC) and adds a normal term with the
cell's own spread (log loss, score sums), which matches a row bootstrap's mean and
variance; the replicate at the observed counts equals the exact figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from raigov.monitors.base import MetricRow, WindowData
from raigov.monitors.counts import (LABELLED, Grouping, cell_counts, figure_row, make_rng,
                                    multinomial_replicates, percentile_interval,
                                    ratio_of_cells, row_cells, wilson_interval)
from raigov.monitors.performance_common import (NO_LABELS, NO_ROWS, Settings,
                                                bootstrap_details, finite, segment_groupings)
NO_PREDICTED_POSITIVES = "no labelled row is predicted positive, so precision is undefined"
NO_POSITIVES = "no labelled row has y_true = 1, so recall is undefined"
F1_UNDEFINED = "no labelled row is positive or predicted positive, so F1 is undefined"
ONE_CLASS = "the labelled rows hold one class only, so ROC AUC is undefined"
NO_SCORES = "no labelled row has a finite score"
ECE_BINNING = ("equal-width bins on [0, 1], as scikit-learn's "
               "calibration_curve(strategy='uniform')")
SCORE_SCHEME = ("multinomial over (score cell x y_true) counts; within a cell its own pair "
                "order (AUC) and a normal term with its own spread (log loss, scores)")
CONFUSION_LAYOUT = "[[tn, fp], [fn, tp]]: rows y_true 0/1, columns predicted 0/1"


class _Proportion(NamedTuple):
    numerator: tuple[int, ...]  # cells, see monitors.counts.CELLS
    denominator: tuple[int, ...]
    undefined: str  # the reason when the denominator is 0
    n_definition: str
    needs_labels: bool = True


_PROPORTIONS = {
    "accuracy": _Proportion((0, 3), LABELLED, NO_LABELS, "labelled rows"),
    "precision": _Proportion((3,), (1, 3), NO_PREDICTED_POSITIVES,
                             "labelled rows predicted positive"),
    "recall": _Proportion((3,), (2, 3), NO_POSITIVES, "labelled rows with y_true = 1"),
    "positive_rate": _Proportion((1, 3, 5), tuple(range(6)), NO_ROWS,
                                 "all predictions, labelled or not", needs_labels=False),
}


@dataclass(frozen=True)
class ScoreCells:
    """One segment's labelled, scored rows as cells: ``counts[c, y]`` rows of score
    cell ``c`` with ``y_true = y``; ``loss`` and ``score`` hold each cell's mean and
    standard deviation (shape ``(2, cells, 2)``); ``within[c]`` is the share of the
    cell's (positive, negative) pairs ordered right (ties count 1/2)."""

    counts: np.ndarray
    loss: np.ndarray
    score: np.ndarray
    within: np.ndarray
    ece_bin: np.ndarray
    ece_bins: int


@dataclass(frozen=True)
class ScoredRows:
    """A window's labelled rows with a finite score, binned once: ``unique`` indexes
    the sorted distinct scores, ``cell_of_unique`` maps them to score cells (quantile
    bins of the rows nested in the equal-width ECE bins; equal scores share a cell)."""

    rows: np.ndarray
    y: np.ndarray
    unique: np.ndarray
    cell_of_unique: np.ndarray
    loss: np.ndarray
    score: np.ndarray
    ece_bin: np.ndarray
    ece_bins: int

    @classmethod
    def build(cls, frame: pd.DataFrame, cells: np.ndarray, *, ece_bins: int,
              score_bins: int, loss: np.ndarray | None = None) -> "ScoredRows":
        """``cells`` as ``monitors.counts.CELLS`` (< 4: labelled; >= 2: y = 1). ``loss``
        (one per row; default: the binary cross-entropy of ``score``) is what
        ``log_loss`` averages; rows need a finite score and loss."""
        score = frame["score"].to_numpy(dtype=float, na_value=np.nan)
        usable = (cells < 4) & np.isfinite(score)
        if loss is not None:
            usable &= np.isfinite(loss)
        rows = np.flatnonzero(usable)
        score, y = score[rows], (cells[rows] >= 2).astype(np.int64)
        distinct, unique = np.unique(score, return_inverse=True)
        per_value = np.bincount(unique, minlength=distinct.size)
        quantile = (np.cumsum(per_value) - per_value) * score_bins // max(rows.size, 1)
        ece_of_value = np.searchsorted(np.linspace(0.0, 1.0, ece_bins + 1)[1:-1], distinct)
        key = ece_of_value * (score_bins + 1) + quantile
        cell_of_unique = np.concatenate([[0], np.cumsum(key[1:] != key[:-1])])[:key.size]
        ece_bin = np.zeros(int(cell_of_unique[-1]) + 1 if key.size else 0, dtype=np.int64)
        ece_bin[cell_of_unique] = ece_of_value
        eps = np.finfo(float).eps
        loss = (-np.log(np.clip(np.where(y == 1, score, 1.0 - score), eps, 1.0 - eps))
                if loss is None else loss[rows])
        return cls(rows=rows, y=y, unique=unique, cell_of_unique=cell_of_unique, loss=loss,
                   score=score, ece_bin=ece_bin, ece_bins=ece_bins)

    def split(self, grouping: Grouping) -> list[ScoreCells]:
        """One ScoreCells per group of ``grouping``, in group order."""
        codes = grouping.codes[self.rows]
        small = codes.astype(np.uint16) if len(grouping.values) < 2 ** 16 else codes
        order = np.argsort(small, kind="stable")  # radix sort for 16-bit codes
        ends = np.cumsum(np.bincount(codes, minlength=len(grouping.values)))
        starts = np.concatenate([[0], ends[:-1]])
        return [self._cells(order[a:b]) for a, b in zip(starts, ends)]

    def _cells(self, idx: np.ndarray) -> ScoreCells:
        unique, y = self.unique[idx], self.y[idx]
        n_cells = self.ece_bin.size
        key = self.cell_of_unique[unique] * 2 + y
        counts = np.bincount(key, minlength=2 * n_cells).reshape(n_cells, 2)
        return ScoreCells(counts=counts, loss=_moments(key, self.loss[idx], counts),
                          score=_moments(key, self.score[idx], counts),
                          within=self._within(unique, y), ece_bin=self.ece_bin,
                          ece_bins=self.ece_bins)

    def _within(self, unique: np.ndarray, y: np.ndarray) -> np.ndarray:
        cell, n_cells = self.cell_of_unique, self.ece_bin.size
        pos = np.bincount(unique, weights=y, minlength=cell.size)
        neg = np.bincount(unique, minlength=cell.size) - pos
        pos_c = np.bincount(cell, weights=pos, minlength=n_cells)
        neg_c = np.bincount(cell, weights=neg, minlength=n_cells)
        below = np.cumsum(neg) - neg - (np.cumsum(neg_c) - neg_c)[cell]
        pairs = np.bincount(cell, weights=pos * below + 0.5 * pos * neg, minlength=n_cells)
        total = pos_c * neg_c
        return np.divide(pairs, total, out=np.zeros(n_cells), where=total > 0)


def _moments(key: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    size, shape = counts.size, counts.shape
    sums = np.bincount(key, weights=values, minlength=size).reshape(shape)
    squares = np.bincount(key, weights=values * values, minlength=size).reshape(shape)
    mean = np.divide(sums, counts, out=np.zeros(shape), where=counts > 0)
    var = np.divide(squares, counts, out=np.zeros(shape), where=counts > 0) - mean ** 2
    return np.stack([mean, np.sqrt(np.clip(var, 0.0, None))])


def _cell_sums(counts: np.ndarray, moments: np.ndarray,
               noise: np.ndarray | None) -> np.ndarray:
    """Sum of a value over each cell's rows: count x mean, plus (for a replicate) the
    normal term of drawing ``count`` rows from the cell's own spread."""
    sums = counts * moments[0]
    return sums if noise is None else sums + np.sqrt(counts) * moments[1] * noise


def auc_from_cells(counts: np.ndarray, cells: ScoreCells,
                   noise: np.ndarray | None) -> np.ndarray:
    neg, pos = counts[..., 0].astype(float), counts[..., 1].astype(float)
    below = np.cumsum(neg, axis=-1) - neg
    pairs = (pos * below).sum(axis=-1) + (cells.within * pos * neg).sum(axis=-1)
    total = pos.sum(axis=-1) * neg.sum(axis=-1)
    return np.divide(pairs, total, out=np.full(np.shape(total), np.nan), where=total > 0)


def log_loss_from_cells(counts: np.ndarray, cells: ScoreCells,
                        noise: np.ndarray | None) -> np.ndarray:
    total = _cell_sums(counts, cells.loss, None if noise is None else noise[0])
    n = counts.sum(axis=(-2, -1)).astype(float)
    return np.divide(total.sum(axis=(-2, -1)), n, out=np.full(np.shape(n), np.nan),
                     where=n > 0)


def ece_from_cells(counts: np.ndarray, cells: ScoreCells,
                   noise: np.ndarray | None) -> np.ndarray:
    scores = _cell_sums(counts, cells.score, None if noise is None else noise[1])
    gap = counts[..., 1] - scores.sum(axis=-1)
    per_bin = gap @ np.eye(cells.ece_bins)[cells.ece_bin]
    n = counts.sum(axis=(-2, -1)).astype(float)
    return np.divide(np.abs(per_bin).sum(axis=-1), n, out=np.full(np.shape(n), np.nan),
                     where=n > 0)


def _ece_details(cells: ScoreCells) -> dict[str, Any]:
    return {"bins": cells.ece_bins, "binning": ECE_BINNING}


ScoreFigure = Callable[[np.ndarray, ScoreCells, np.ndarray | None], np.ndarray]
_SCORE_FIGURES: dict[str, tuple[ScoreFigure, str, Callable[[ScoreCells], dict[str, Any]]]] = {
    "roc_auc": (auc_from_cells, ONE_CLASS, lambda cells: {}),
    "log_loss": (log_loss_from_cells, NO_SCORES, lambda cells: {}),
    "ece": (ece_from_cells, NO_SCORES, _ece_details),
}


def binary_performance_rows(settings: Settings, window: WindowData) -> list[MetricRow]:
    """Every binary figure for ``all`` and each sensitive group."""
    cells = row_cells(window.frame)
    scores = ScoredRows.build(window.frame, cells, ece_bins=settings.ece_bins,
                              score_bins=settings.score_bins)
    rows: list[MetricRow] = []
    for grouping in segment_groupings(window):
        rows += _grouping_rows(settings, cells, scores, grouping)
    return rows


def _grouping_rows(settings: Settings, cells: np.ndarray, scores: ScoredRows,
                   grouping: Grouping) -> list[MetricRow]:
    counts = cell_counts(cells, grouping)
    rows: list[MetricRow] = []
    for group, segment_scores in enumerate(scores.split(grouping)):
        rows += _segment_rows(settings, grouping.segment(group), counts[group],
                              segment_scores)
    return rows


def _segment_rows(settings: Settings, segment: str, counts: np.ndarray,
                  scores: ScoreCells) -> list[MetricRow]:
    replicates = settings.replicates
    confusion = [[int(counts[0]), int(counts[1])], [int(counts[2]), int(counts[3])]]
    ctx = SegmentContext(segment=segment, min_n=settings.min_n, confidence=settings.confidence,
                   replicates=replicates, settings=settings,
                   rng=make_rng(settings.seed, f"performance:{segment}"),
                   common={"confusion_matrix": confusion,
                           "confusion_matrix_layout": CONFUSION_LAYOUT},
                   no_labels=bool(counts[list(LABELLED)].sum() == 0))
    rows = [_proportion_row(ctx, name, counts) for name in _PROPORTIONS]
    rows.append(_f1_row(ctx, counts))
    draws = multinomial_replicates(scores.counts, replicates=replicates, rng=ctx.rng)
    noise = ctx.rng.standard_normal((2, *draws.shape))
    rows += [score_row(ctx, name, scores, draws=draws, noise=noise)
             for name in _SCORE_FIGURES]
    return rows


@dataclass(frozen=True)
class SegmentContext:
    segment: str
    min_n: int
    confidence: float
    replicates: int
    settings: Settings
    rng: np.random.Generator
    common: dict[str, Any]
    no_labels: bool

    def reason(self, reason: str) -> str:
        return NO_LABELS if self.no_labels else reason


def _proportion_row(ctx: SegmentContext, name: str, counts: np.ndarray) -> MetricRow:
    spec = _PROPORTIONS[name]
    value, trials = ratio_of_cells(counts, spec.numerator, spec.denominator)
    successes = counts[list(spec.numerator)].sum()
    details = {"ci_method": "wilson", "confidence": ctx.confidence,
               "successes": int(successes), "n_definition": spec.n_definition,
               **(ctx.common if spec.needs_labels else {})}
    undefined = ctx.reason(spec.undefined) if spec.needs_labels else spec.undefined
    interval = wilson_interval(float(successes), float(trials), confidence=ctx.confidence)
    return figure_row(f"performance.{name}", segment=ctx.segment, value=float(value),
                      n=int(trials), min_n=ctx.min_n, interval=interval,
                      details=details, undefined=undefined)


def _f1(counts: np.ndarray) -> np.ndarray:
    tp, fp, fn = counts[..., 3], counts[..., 1], counts[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


def _f1_row(ctx: SegmentContext, counts: np.ndarray) -> MetricRow:
    value = float(_f1(counts))
    draws = multinomial_replicates(counts[:4], replicates=ctx.replicates, rng=ctx.rng)
    low, high, used = percentile_interval(_f1(draws), estimate=_finite(value),
                                          confidence=ctx.confidence)
    details = {**_bootstrap_details(ctx, used, "multinomial over the four confusion cells"),
               "n_definition": "labelled rows", **ctx.common}
    return figure_row("performance.f1", segment=ctx.segment, value=value,
                      n=int(counts[:4].sum()), min_n=ctx.min_n, interval=(low, high),
                      details=details, undefined=ctx.reason(F1_UNDEFINED))


def score_row(ctx: SegmentContext, name: str, scores: ScoreCells, *, draws: np.ndarray,
               noise: np.ndarray) -> MetricRow:
    figure, undefined, extra = _SCORE_FIGURES[name]
    undefined = undefined if scores.counts.sum() else NO_SCORES
    value = float(figure(scores.counts, scores, None))
    low, high, used = percentile_interval(figure(draws, scores, noise),
                                          estimate=_finite(value), confidence=ctx.confidence)
    details = {**_bootstrap_details(ctx, used, SCORE_SCHEME),
               "n_definition": "labelled rows with a finite score", **extra(scores)}
    return figure_row(f"performance.{name}", segment=ctx.segment, value=value,
                      n=int(scores.counts.sum()), min_n=ctx.min_n, interval=(low, high),
                      details=details, undefined=ctx.reason(undefined))


def _bootstrap_details(ctx: SegmentContext, used: int, scheme: str) -> dict[str, Any]:
    return bootstrap_details(ctx.settings, used, scheme)


def _finite(value: float) -> float | None:
    return finite(value)
