"""Performance of a regression model (output_kind ``regression``), with scikit-learn's
definitions, for ``all`` and each sensitive group, on the rows whose true value has
arrived (``y_true``) against the predicted ``value``:

- ``performance.mae``: mean absolute error (``mean_absolute_error``);
- ``performance.rmse``: root mean squared error (``root_mean_squared_error``);
- ``performance.r2``: coefficient of determination (``r2_score``); undefined (not 0 or
  1 as scikit-learn's ``force_finite`` gives) when the segment's true values are
  constant or fewer than two;
- ``performance.mape``: mean absolute percentage error as a fraction, ``|e| / max(|y|,
  eps)`` (``mean_absolute_percentage_error``: 0.1 is 10%);
- ``performance.median_absolute_error`` (``median_absolute_error``).

Intervals: row bootstrap (m-out-of-n above 10,000 rows, :mod:`raigov.monitors.resample`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from raigov.monitors.base import MetricRow, WindowData
from raigov.monitors.counts import Grouping, figure_row, make_rng, percentile_interval
from raigov.monitors.frame_columns import value_column
from raigov.monitors.base import MetricInfo
from raigov.monitors.performance_common import (NO_LABELS, Settings, bootstrap_details,
                                                finite, segment_groupings)
from raigov.monitors.resample import Resample, scheme

R2_UNDEFINED = ("the segment's true values are constant (or fewer than two), so R² is "
                "undefined")
EPS = np.finfo(np.float64).eps

REGRESSION_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("performance.mae", "regression: mean absolute error", False, True),
    MetricInfo("performance.rmse", "regression: root mean squared error", False, True),
    MetricInfo("performance.r2", "regression: coefficient of determination (1 - SS_res / "
               "SS_tot)", True, True),
    MetricInfo("performance.mape", "regression: mean absolute percentage error, as a "
               "fraction (|y - value| / max(|y|, eps); scikit-learn's)", False, True),
    MetricInfo("performance.median_absolute_error", "regression: median absolute error",
               False, True),
)


def error_parts(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """The per-row quantities every figure is a function of (last axis: rows)."""
    error = np.abs(y - pred)
    return {"abs": error, "squared": error * error, "y": y,
            "ape": error / np.maximum(np.abs(y), EPS)}


def _r2(parts: dict[str, np.ndarray]) -> np.ndarray:
    y = parts["y"]
    total = (y * y).mean(axis=-1) - y.mean(axis=-1) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((total > 1e-12 * np.maximum((y * y).mean(axis=-1), 1e-300))
                        & (y.shape[-1] > 1), 1 - parts["squared"].mean(axis=-1) / total, np.nan)


Figure = Callable[[dict[str, np.ndarray]], np.ndarray]
FIGURES: dict[str, tuple[Figure, str]] = {
    "mae": (lambda parts: parts["abs"].mean(axis=-1), NO_LABELS),
    "rmse": (lambda parts: np.sqrt(parts["squared"].mean(axis=-1)), NO_LABELS),
    "r2": (_r2, R2_UNDEFINED),
    "mape": (lambda parts: parts["ape"].mean(axis=-1), NO_LABELS),
    "median_absolute_error": (lambda parts: np.median(parts["abs"], axis=-1), NO_LABELS),
}


def regression_truth(window: WindowData) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, value)`` as floats: value required for every row, y_true NaN where
    no label has arrived."""
    pred = value_column(window.frame, "value", required=True)
    y = value_column(window.frame, "y_true", required=False)
    return np.where(np.isfinite(y), y, np.nan), pred


def regression_performance_rows(settings: Settings, window: WindowData) -> list[MetricRow]:
    y, pred = regression_truth(window)
    labelled = np.flatnonzero(~np.isnan(y))
    rows: list[MetricRow] = []
    for grouping in segment_groupings(window):
        for group, members in enumerate(split_rows(grouping, labelled)):
            rows += _segment_rows(settings, grouping.segment(group), y[members], pred[members])
    return rows


def split_rows(grouping: Grouping, rows: np.ndarray) -> list[np.ndarray]:
    """``rows`` (indices) split by group, in group order."""
    codes = grouping.codes[rows]
    order = rows[np.argsort(codes, kind="stable")]
    ends = np.cumsum(np.bincount(codes, minlength=len(grouping.values)))
    return np.split(order, ends[:-1])


def _segment_rows(settings: Settings, segment: str, y: np.ndarray,
                  pred: np.ndarray) -> list[MetricRow]:
    rng = make_rng(settings.seed, f"performance:{segment}")
    sample = Resample.draw(len(y), replicates=settings.replicates, rng=rng)
    parts = error_parts(y, pred)
    drawn, centre = sample.take({k: v for k, v in parts.items() if k != "squared"})
    drawn["squared"] = drawn["abs"] * drawn["abs"]
    centre["squared"] = centre["abs"] * centre["abs"]
    rows = []
    for name, (figure, undefined) in FIGURES.items():
        value = float(figure(parts)) if len(y) else float("nan")
        estimate = finite(value)
        replicates = (sample.rescaled(figure(drawn), estimate, float(figure(centre)))
                      if estimate is not None and sample.replicates else np.zeros(0))
        low, high, used = percentile_interval(replicates, estimate=estimate,
                                              confidence=settings.confidence)
        details = {**bootstrap_details(settings, used, scheme()),
                   "n_definition": "labelled rows"}
        rows.append(figure_row(f"performance.{name}", segment=segment, value=value,
                               n=len(y), min_n=settings.min_n, interval=(low, high),
                               details=details, undefined=NO_LABELS if not len(y) else undefined))
    return rows
