"""The ``estimate`` monitor: a classifier's performance estimated before any label
arrives, by confidence-based performance estimation (CBPE, NannyML's definitions; see
:mod:`raigov.monitors.estimate_cbpe`).

The calibrator and the sampling-error components are fitted on the model's registered
reference (which must carry ``y_true`` and the model's outputs). Each window then gets
``estimate.accuracy``, ``precision``, ``recall``, ``f1`` and ``roc_auc`` for ``all``, each
group of each sensitive attribute and each declared intersection, from every
prediction in the window, labelled or not; a binary model also gets
``estimate.true_positive_rate`` and ``estimate.false_positive_rate`` per group: the
equalized-odds rates, estimated before the labels. A group's sampling error uses the
components of that group's reference rows (``all``: the whole reference, as NannyML);
the interval is ``estimate +/- z * sampling error`` (z for ``confidence``, 1.96 at 95 %;
NannyML draws its bands at 3 standard errors), clipped to [0, 1].

Once labels arrive, ``estimate.error.<metric>`` is the estimate on the labelled rows
minus the realised figure on the same rows (so it measures the estimator, not which
rows got their labels first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.stats import norm

from raigov.monitors.base import MetricInfo, MetricRow, WindowData, register_monitor
from raigov.monitors.counts import TOO_FEW_ROWS, Grouping, group_rows, overall_grouping
from raigov.monitors.estimate_cbpe import (BINARY_METRICS, MULTICLASS_METRICS, Calibrator,
                                           binary_components, binary_estimates,
                                           binary_realised, calibrate_multiclass,
                                           multiclass_error, multiclass_estimates,
                                           multiclass_realised)
from raigov.monitors.fairness_binary import groupings

NO_REFERENCE_OUTPUTS = ("the reference has no {missing}: CBPE calibrates on the reference's "
                        "model outputs and labels; register a reference with y_true")
NO_WINDOW_ROWS = "the segment holds no scored predictions"
NO_LABELLED = "no ground-truth label has arrived for this segment's predictions"
UNDEFINED = "the estimate is undefined for this segment (a zero denominator)"

_MEANINGS = {
    "accuracy": "expected share of correct predictions",
    "precision": "expected TP / (TP + FP)",
    "recall": "expected TP / (TP + FN)",
    "f1": "expected TP / (TP + (FP + FN) / 2)",
    "roc_auc": "ROC AUC from expected true and false positives along the score's ranking",
    "true_positive_rate": "per group: expected TP / (TP + FN) (binary; equalized odds)",
    "false_positive_rate": "per group: expected FP / (FP + TN) (binary; equalized odds)",
}
_BETTER = {"false_positive_rate": None, "true_positive_rate": None}


def _declared() -> tuple[MetricInfo, ...]:
    out = [MetricInfo(f"estimate.{m}", f"CBPE, no labels needed: {meaning}",
                      _BETTER.get(m, True), False) for m, meaning in _MEANINGS.items()]
    out += [MetricInfo(f"estimate.error.{m}", f"estimate.{m} minus the realised {m} on the "
                       "window's labelled rows", None, True) for m in _MEANINGS]
    return tuple(out)


@dataclass
class _Fitted:
    """What CBPE learns from the reference."""

    calibrators: list[Calibrator]
    reference: pd.DataFrame          # the reference rows used (outputs and y_true)

    @property
    def calibrated(self) -> bool | list[bool]:
        flags = [c.used for c in self.calibrators]
        return flags[0] if len(flags) == 1 else flags


_FIT_CACHE: dict[tuple[Any, ...], _Fitted] = {}


def _outputs(frame: pd.DataFrame, kind: str, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class index, scores): binary scores are P(positive) ``(n,)``,
    multiclass the class probabilities ``(n, K)``."""
    if kind == "binary":
        score = frame["score"].to_numpy(dtype=float, na_value=np.nan)
        if "label" in frame.columns and frame["label"].notna().all():
            pred = frame["label"].to_numpy().astype(np.int64)
        else:
            pred = (score >= threshold).astype(np.int64)
        return pred, score
    proba = np.asarray([np.asarray(p, dtype=float) for p in frame["probabilities"]]) \
        if len(frame) else np.zeros((0, 0))
    return frame["label"].to_numpy().astype(np.int64), proba


def _usable(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    column = "score" if kind == "binary" else "probabilities"
    return frame[frame[column].notna()] if column in frame.columns else frame.iloc[:0]


@register_monitor
class EstimateMonitor:
    family: ClassVar[str] = "estimate"
    output_kinds: ClassVar[tuple[str, ...]] = ("binary", "multiclass")
    metrics: ClassVar[tuple[MetricInfo, ...]] = _declared()

    def __init__(self, *, confidence: float = 0.95) -> None:
        self.confidence = confidence
        self.z = float(norm.ppf(0.5 + confidence / 2))

    # -- fitting ----------------------------------------------------------------------
    def fit(self, window: WindowData) -> _Fitted | str:
        spec, ref = window.spec, window.reference
        output = "score" if spec.output_kind == "binary" else "probabilities"
        missing = [c for c in ("y_true", output) if c not in ref.columns]
        if not missing and not ref[["y_true", output]].notna().all(axis=1).any():
            missing = [f"row with both y_true and {output}"]
        if missing:
            return NO_REFERENCE_OUTPUTS.format(missing=", ".join(missing))
        key = (str(window.artifact_dir), spec.name, window.version, len(ref)) \
            if window.artifact_dir is not None else None
        if key is not None and key in _FIT_CACHE:
            return _FIT_CACHE[key]
        usable = ref[ref["y_true"].notna() & ref[output].notna()].reset_index(drop=True)
        pred, score = _outputs(usable, spec.output_kind, spec.threshold)
        y = usable["y_true"].to_numpy().astype(np.int64)
        if spec.output_kind == "binary":
            calibrators = [Calibrator.fit(y, score)]
        else:
            calibrators = [Calibrator.fit((y == k).astype(np.int64), score[:, k])
                           for k in range(score.shape[1])]
        fitted = _Fitted(calibrators=calibrators, reference=usable)
        if key is not None:
            _FIT_CACHE[key] = fitted
        return fitted

    # -- running ----------------------------------------------------------------------
    def run(self, window: WindowData) -> list[MetricRow]:
        kind = window.spec.output_kind
        names = BINARY_METRICS if kind == "binary" else MULTICLASS_METRICS
        fitted = self.fit(window)
        if isinstance(fitted, str):
            return [MetricRow(f"estimate.{m}", None, status="insufficient_data",
                              details={"reason": fitted}) for m in names]
        frame = _usable(window.frame, kind).reset_index(drop=True)
        ref = fitted.reference
        both = pd.concat([frame[list(window.spec.sensitive)], ref[list(window.spec.sensitive)]],
                         ignore_index=True)
        cache: dict[str, Grouping] = {}
        segments: list[tuple[str, np.ndarray, np.ndarray]] = [
            ("all", np.arange(len(frame)), np.arange(len(ref)))]
        for columns in groupings(window.spec):
            grouping = group_rows(both, columns, cache=cache) if len(both) else overall_grouping(0)
            win_codes, ref_codes = grouping.codes[:len(frame)], grouping.codes[len(frame):]
            for group in np.unique(win_codes):
                segments.append((grouping.segment(int(group)), np.flatnonzero(win_codes == group),
                                 np.flatnonzero(ref_codes == group)))
        pred, raw = _outputs(frame, kind, window.spec.threshold)
        ref_pred, ref_raw = _outputs(ref, kind, window.spec.threshold)
        ref_y = ref["y_true"].to_numpy().astype(np.int64)
        if kind == "binary":
            cal = fitted.calibrators[0](raw)
        else:
            cal = calibrate_multiclass(fitted.calibrators, raw) if len(frame) else raw
        y_true = frame["y_true"].to_numpy(dtype=float, na_value=np.nan)
        min_n = window.spec.monitoring.min_group_size
        rows: list[MetricRow] = []
        for segment, rows_w, rows_r in segments:
            estimates = self._estimates(kind, pred[rows_w], cal[rows_w], raw[rows_w])
            errors = self._errors(kind, ref_pred[rows_r], ref_y[rows_r], ref_raw[rows_r],
                                  len(rows_w))
            labelled = rows_w[np.isfinite(y_true[rows_w])]
            realised = (self._realised(kind, pred[labelled], y_true[labelled], raw[labelled])
                        if labelled.size else None)
            on_labelled = (self._estimates(kind, pred[labelled], cal[labelled], raw[labelled])
                           if labelled.size else None)
            details = {"method": "CBPE (NannyML)", "calibrated": fitted.calibrated,
                       "reference_rows": int(rows_r.size), "confidence": self.confidence}
            for metric in names:
                rows.append(self._row(metric, segment, estimates[metric], errors[metric],
                                      int(rows_w.size), min_n, details))
                if realised is not None:
                    rows.append(self._error_row(metric, segment, on_labelled[metric],
                                                realised[metric], int(labelled.size), min_n))
        return rows

    def _estimates(self, kind, pred, cal, raw) -> dict[str, float]:
        if len(pred) == 0:
            return {m: float("nan") for m in BINARY_METRICS}
        return (binary_estimates(pred, cal, raw) if kind == "binary"
                else multiclass_estimates(pred, cal, raw))

    def _realised(self, kind, pred, y, raw) -> dict[str, float]:
        return (binary_realised(pred, y, raw) if kind == "binary"
                else multiclass_realised(pred, y, raw))

    def _errors(self, kind, pred, y, raw, n: int) -> dict[str, float]:
        if kind == "binary":
            return {m: c.error(n) for m, c in binary_components(pred, y, raw).items()}
        per_class = [binary_components((pred == k).astype(np.int64), (y == k).astype(np.int64),
                                       raw[:, k], variance=True) for k in range(raw.shape[1])]
        accuracy_std = float(np.std((pred == y).astype(float))) if len(y) else float("nan")
        return {m: multiclass_error(m, per_class, accuracy_std, n) for m in MULTICLASS_METRICS}

    def _row(self, metric: str, segment: str, value: float, error: float, n: int, min_n: int,
             details: dict[str, Any]) -> MetricRow:
        details = {**details, "sampling_error": error if np.isfinite(error) else None}
        if n == 0 or not np.isfinite(value):
            return MetricRow(f"estimate.{metric}", None, segment=segment, n=n,
                             status="insufficient_data",
                             details={**details, "reason": NO_WINDOW_ROWS if n == 0 else UNDEFINED})
        low = high = None
        if np.isfinite(error):
            low = float(max(0.0, value - self.z * error))
            high = float(min(1.0, value + self.z * error))
        status = "ok"
        if n < min_n:
            status = "insufficient_data"
            details["reason"] = TOO_FEW_ROWS.format(n=n, min_n=min_n)
        return MetricRow(f"estimate.{metric}", float(value), segment=segment, ci_low=low,
                         ci_high=high, n=n, status=status, details=details)

    def _error_row(self, metric: str, segment: str, estimate: float, realised: float, n: int,
                   min_n: int) -> MetricRow:
        details: dict[str, Any] = {"estimate_on_labelled": finite(estimate),
                                   "realised": finite(realised)}
        if not (np.isfinite(estimate) and np.isfinite(realised)):
            return MetricRow(f"estimate.error.{metric}", None, segment=segment, n=n,
                             status="insufficient_data", details={**details, "reason": UNDEFINED})
        status = "ok"
        if n < min_n:
            status = "insufficient_data"
            details["reason"] = TOO_FEW_ROWS.format(n=n, min_n=min_n)
        return MetricRow(f"estimate.error.{metric}", float(estimate - realised), segment=segment,
                         n=n, status=status, details=details)


def finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
