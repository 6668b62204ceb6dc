"""Confidence-based performance estimation (CBPE), by NannyML's definitions
(``nannyml.performance_estimation.confidence_based``, ``nannyml.calibration``,
``nannyml.sampling_error``), as plain numpy functions the ``estimate`` family uses.

- Calibration: isotonic regression (``out_of_bounds="clip"``) fitted on the reference's
  scores and labels, used only when it helps by NannyML's rule (:func:`needs_calibration`:
  10 stratified 90/10 splits, ECE on 10 equal-count bins of the pooled test folds, the
  calibrated ECE must be lower; never when the labels hold one class or the reference
  ROC AUC exceeds 0.999). Multiclass: one calibrator per class (one-vs-rest), the
  calibrated probabilities renormalised to sum to 1 (uniform where they sum to 0).
- Expected confusion counts: ``TP = sum(p | predicted 1)``, ``FP = sum(1 - p | predicted
  1)``, ``FN = sum(p | predicted 0)``, ``TN = sum(1 - p | predicted 0)`` with ``p`` the
  calibrated probability of the positive class.
- ROC AUC: rows sorted by the uncalibrated score (descending), the expected true and
  false positives accumulated from the calibrated probability, the curve's area by the
  trapezoid rule (NannyML's ``estimate_roc_auc``, rounding to 5 decimals included).
- Sampling error: NannyML's standard error, from components measured on the reference
  (``std / sqrt(n * fraction)``); multiclass combines the classes' variances as
  ``sqrt(sum(var_k / (n * fraction_k))) / K`` (ROC AUC times 1.2, as NannyML).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

#: The binary metrics the estimator knows, in emission order.
BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc",
                  "true_positive_rate", "false_positive_rate")
MULTICLASS_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


# --- calibration -------------------------------------------------------------------

def _bin_edges(length: int, bin_count: int) -> list[tuple[int, int]]:
    if length <= 2 * bin_count:
        bin_count = length // 2
        if bin_count < 2:
            return []
    width = length // bin_count
    edges = np.asarray(range(0, length + 1, width))
    edges[-1] = length
    return list(zip(edges[:-1], edges[1:]))


def _ece(y_true: np.ndarray, proba: np.ndarray, edges: list[tuple[int, int]]) -> float:
    order = proba.argsort()
    proba, y_true = proba[order], y_true[order]
    return float(sum((right - left) / len(proba)
                     * abs(proba[left:right].mean() - y_true[left:right].mean())
                     for left, right in edges))


def stratified_splits(y: np.ndarray, *, n_splits: int, test_size: float,
                      random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``StratifiedShuffleSplit(n_splits, test_size=test_size, random_state=...)``'s
    splits: the same indices in the same order, drawn from the same random stream (a
    test compares them with scikit-learn's), built with array operations. scikit-learn
    gathers each split in Python lists, about 1 s per split at a million rows."""
    from sklearn.model_selection._split import _validate_shuffle_split
    from sklearn.utils.extmath import _approximate_mode

    n_train, n_test = _validate_shuffle_split(len(y), test_size, None, default_test_size=0.1)
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    if class_counts.min() < 2 or n_train < classes.size or n_test < classes.size:
        return list(StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size,
                                           random_state=random_state).split(y, y))
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(random_state)
    out = []
    for _ in range(n_splits):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        train, test = [], []
        for i, count in enumerate(class_counts):
            taken = class_indices[i].take(rng.permutation(count), mode="clip")
            train.append(taken[:n_i[i]])
            test.append(taken[n_i[i]:n_i[i] + t_i[i]])
        # permuting a list of indices and permuting range(len) draw the same numbers
        train, test = np.concatenate(train), np.concatenate(test)
        train = train[rng.permutation(len(train))]
        test = test[rng.permutation(len(test))]
        out.append((train, test))
    return out


def _isotonic(values: np.ndarray, inverse: np.ndarray, labels: np.ndarray) -> IsotonicRegression:
    """``IsotonicRegression(out_of_bounds="clip")`` fitted on (score, 0/1 label) rows,
    given as one row per distinct score (``values``; ``inverse`` maps each row to its
    score) with its positive share and its count as the weight: scikit-learn merges
    tied scores into exactly that weighted mean itself, so the model is the same, and
    a million rows with a few hundred distinct scores fit in milliseconds."""
    counts = np.bincount(inverse, minlength=values.size)
    positives = np.bincount(inverse, weights=labels, minlength=values.size)
    seen = counts > 0
    model = IsotonicRegression(out_of_bounds="clip", increasing=True)
    return model.fit(values[seen], positives[seen] / counts[seen],
                     sample_weight=counts[seen].astype(float))


def isotonic_fit(scores: np.ndarray, labels: np.ndarray) -> IsotonicRegression:
    values, inverse = np.unique(scores, return_inverse=True)
    return _isotonic(values, inverse, np.asarray(labels, dtype=float))


def _grouped_auc(inverse: np.ndarray, labels: np.ndarray, size: int) -> float:
    """ROC AUC of 0/1 ``labels`` by the score groups ``inverse`` (ascending scores):
    the Mann-Whitney count with ties as halves, which is the area under scikit-learn's
    ROC curve, from counts instead of a sort of every row."""
    total = np.bincount(inverse, minlength=size).astype(float)
    positives = np.bincount(inverse, weights=labels, minlength=size)
    negatives = total - positives
    below = np.cumsum(negatives) - negatives
    return float(np.sum(positives * (below + 0.5 * negatives))
                 / (positives.sum() * negatives.sum()))


def needs_calibration(y_true: np.ndarray, proba: np.ndarray, *, bin_count: int = 10,
                      split_count: int = 10,
                      grouped: tuple[np.ndarray, np.ndarray] | None = None) -> bool:
    """NannyML's ``needs_calibration`` with its isotonic calibrator. ``grouped``: the
    scores' ``np.unique(proba, return_inverse=True)``, when the caller has it."""
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    if y_true.size == 0 or y_true.min() == y_true.max():
        return False
    values, inverse = grouped if grouped is not None else np.unique(proba, return_inverse=True)
    labels = y_true.astype(float)
    binary = bool(np.isin(y_true, (0, 1)).all())
    auc = _grouped_auc(inverse, labels, values.size) if binary else roc_auc_score(y_true, proba)
    if auc > 0.999:
        return False
    truths, raw, calibrated = [], [], []
    for train, test in stratified_splits(y_true, n_splits=split_count, test_size=0.1,
                                         random_state=42):
        model = _isotonic(values, inverse[train], labels[train])
        truths.append(y_true[test])
        raw.append(proba[test])
        calibrated.append(model.predict(proba[test]))
    y_all, raw_all, cal_all = (np.concatenate(a) for a in (truths, raw, calibrated))
    edges = _bin_edges(len(raw_all), bin_count)
    return bool(_ece(y_all, raw_all, edges) > _ece(y_all, cal_all, edges))


@dataclass
class Calibrator:
    """An isotonic calibrator, or the identity where calibration does not help."""

    model: IsotonicRegression | None

    @classmethod
    def fit(cls, y_true: np.ndarray, proba: np.ndarray) -> "Calibrator":
        proba = np.asarray(proba, dtype=float)
        grouped = np.unique(proba, return_inverse=True)
        if not needs_calibration(y_true, proba, grouped=grouped):
            return cls(None)
        return cls(_isotonic(*grouped, np.asarray(y_true, dtype=float)))

    @property
    def used(self) -> bool:
        return self.model is not None

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=float)
        return proba if self.model is None else self.model.predict(proba)


def calibrate_multiclass(calibrators: list[Calibrator], proba: np.ndarray) -> np.ndarray:
    """Each class column calibrated, rows renormalised (uniform where they sum to 0)."""
    out = np.column_stack([c(proba[:, k]) for k, c in enumerate(calibrators)]) \
        if proba.size else np.zeros_like(proba)
    total = out.sum(axis=1, keepdims=True)
    uniform = np.full_like(out, 1.0 / max(out.shape[1], 1))
    return np.divide(out, total, out=uniform, where=total != 0)


# --- binary estimates --------------------------------------------------------------

def expected_counts(pred: np.ndarray, p: np.ndarray) -> tuple[float, float, float, float]:
    """(TP, FP, FN, TN) expected from the calibrated positive probability ``p``."""
    positive = pred == 1
    tp = float(p[positive].sum())
    fp = float((1.0 - p[positive]).sum())
    fn = float(p[~positive].sum())
    tn = float((1.0 - p[~positive]).sum())
    return tp, fp, fn, tn


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else float("nan")


def from_counts(metric: str, tp: float, fp: float, fn: float, tn: float) -> float:
    """A confusion-count metric (expected or realised counts alike); NaN if undefined."""
    if metric == "accuracy":
        return _div(tp + tn, tp + fp + fn + tn)
    if metric == "precision":
        return _div(tp, tp + fp)
    if metric in ("recall", "true_positive_rate"):
        return _div(tp, tp + fn)
    if metric == "false_positive_rate":
        return _div(fp, fp + tn)
    if metric == "f1":
        return _div(tp, tp + 0.5 * (fp + fn))
    raise KeyError(metric)


def estimate_roc_auc(calibrated: np.ndarray, score: np.ndarray) -> float:
    """NannyML's ``estimate_roc_auc``: expected TPR/FPR along the uncalibrated ranking."""
    order = np.argsort(np.asarray(score))[::-1]
    p = np.asarray(calibrated, dtype=float)[order]
    if p.size == 0:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        tps = np.cumsum(p)
        fps = 1 + np.arange(len(p)) - tps
        tps = np.round(np.r_[0, tps], 5)
        fps = np.round(np.r_[0, fps], 5)
        tpr, fpr = tps / tps[-1], fps / fps[-1]
        if not (np.isfinite(tpr).all() and np.isfinite(fpr).all()):
            return float("nan")
        return float(np.trapezoid(tpr, fpr))


def binary_estimates(pred: np.ndarray, calibrated: np.ndarray, score: np.ndarray) -> dict[str, float]:
    counts = expected_counts(pred, calibrated)
    out = {m: from_counts(m, *counts) for m in BINARY_METRICS if m != "roc_auc"}
    out["roc_auc"] = estimate_roc_auc(calibrated, score)
    return out


def binary_realised(pred: np.ndarray, y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    y = y_true.astype(np.int64)
    positive = pred == 1
    counts = (float(np.sum(positive & (y == 1))), float(np.sum(positive & (y == 0))),
              float(np.sum(~positive & (y == 1))), float(np.sum(~positive & (y == 0))))
    out = {m: from_counts(m, *counts) for m in BINARY_METRICS if m != "roc_auc"}
    out["roc_auc"] = (float(roc_auc_score(y, score)) if np.unique(y).size == 2
                      else float("nan"))
    return out


# --- sampling error ----------------------------------------------------------------

@dataclass(frozen=True)
class Component:
    """NannyML's sampling-error component of one metric: a spread and the fraction of
    rows that metric's observations are drawn from."""

    spread: float       # std (binary) or variance (a multiclass class)
    fraction: float

    def error(self, n: int) -> float:
        if not np.isfinite(self.spread) or self.fraction <= 0 or n <= 0:
            return float("nan")
        return float(self.spread / np.sqrt(n * self.fraction))


def _std_or_var(values: np.ndarray, variance: bool) -> float:
    if values.size == 0:
        return float("nan")
    return float(np.var(values) if variance else np.std(values))


def _auroc_component(y: np.ndarray, score: np.ndarray, variance: bool) -> Component:
    y, score = y.astype(np.int64), np.asarray(score, dtype=float)
    if y.size == 0 or np.unique(y).size < 2:
        return Component(float("nan"), 0.0)
    if np.mean(y) > 0.5:
        y, score = np.abs(y - 1), 1 - score
    order = np.argsort(score)
    y = y[order]
    # NannyML's ``np.unique(y * arange)[1:]``: the positions of the positives, less
    # position 0 (whose product is 0 either way), already sorted
    ranks = np.flatnonzero(y)
    ranks = ranks[ranks > 0]
    ser = ranks - np.arange(len(ranks))
    n_pos = int(y.sum())
    return Component(_std_or_var(ser / (len(y) - n_pos), variance), n_pos / len(y))


def binary_components(pred: np.ndarray, y_true: np.ndarray, score: np.ndarray, *,
                      variance: bool = False) -> dict[str, Component]:
    """NannyML's components of each metric on reference rows (``variance``: the
    multiclass per-class form)."""
    y = y_true.astype(np.int64)
    n = len(y)
    if n == 0:
        return {m: Component(float("nan"), 0.0) for m in BINARY_METRICS}
    positive = pred == 1
    tp = np.ones(int(np.sum(positive & (y == 1))))
    fp = np.zeros(int(np.sum(positive & (y == 0))))
    fn = np.zeros(int(np.sum(~positive & (y == 1))))
    tn_ones = np.ones(int(np.sum(~positive & (y == 0))))
    relevant = np.concatenate([tp, fn, fp])
    # binary F1 scales its observations by NannyML's correcting factor; the multiclass
    # per-class component (``variance``) does not, as NannyML
    factor = 1.0 if variance or not relevant.size else (
        len(relevant) / ((len(fn) + len(fp)) * 0.5 + len(tp)))
    out = {
        "accuracy": Component(_std_or_var((pred == y).astype(float), variance), 1.0),
        "precision": Component(_std_or_var(np.concatenate([tp, fp]), variance),
                               float(positive.sum()) / n),
        "recall": Component(_std_or_var(np.concatenate([tp, fn]), variance), float(y.sum()) / n),
        "f1": Component(_std_or_var(relevant * factor, variance), relevant.size / n),
        "roc_auc": _auroc_component(y, score, variance),
        # specificity's component (TN ones, FP zeros): FPR = 1 - specificity
        "false_positive_rate": Component(_std_or_var(np.concatenate([tn_ones, fp]), variance),
                                         float((y == 0).sum()) / n),
    }
    out["true_positive_rate"] = out["recall"]
    return out


def multiclass_error(metric: str, components: list[dict[str, Component]], accuracy_std: float,
                     n: int) -> float:
    """NannyML's multiclass sampling error of one macro metric for ``n`` rows."""
    if n <= 0:
        return float("nan")
    if metric == "accuracy":
        return float(accuracy_std / np.sqrt(n))
    parts = [c[metric] for c in components]
    if any(p.fraction <= 0 or not np.isfinite(p.spread) for p in parts):
        return float("nan")
    total = float(np.sqrt(sum(p.spread / (n * p.fraction) for p in parts)) / len(parts))
    return total * 1.2 if metric == "roc_auc" else total


# --- multiclass estimates ------------------------------------------------------------

def multiclass_estimates(pred: np.ndarray, calibrated: np.ndarray, raw: np.ndarray) -> dict[str, float]:
    """Macro averages of the one-vs-rest binary estimates; accuracy the mean calibrated
    probability of the predicted class (NannyML)."""
    classes = calibrated.shape[1]
    per_class = [binary_estimates((pred == k).astype(np.int64), calibrated[:, k], raw[:, k])
                 for k in range(classes)]
    out = {m: float(np.mean([c[m] for c in per_class]))
           for m in ("precision", "recall", "f1", "roc_auc")}
    out["accuracy"] = (float(calibrated[np.arange(len(pred)), pred].mean())
                       if len(pred) else float("nan"))
    return out


def multiclass_realised(pred: np.ndarray, y_true: np.ndarray, raw: np.ndarray) -> dict[str, float]:
    classes = raw.shape[1]
    y = y_true.astype(np.int64)
    per_class = [binary_realised((pred == k).astype(np.int64), (y == k).astype(np.int64), raw[:, k])
                 for k in range(classes)]
    out = {m: float(np.mean([c[m] for c in per_class]))
           for m in ("precision", "recall", "f1", "roc_auc")}
    out["accuracy"] = float(np.mean(pred == y)) if len(y) else float("nan")
    return out
