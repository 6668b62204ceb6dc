"""Drift of a window against the model's registered reference, in Evidently's terms.

Per input column (features and sensitive attributes) ``drift.feature.<name>`` is the
score of Evidently's drift test for that column (method, threshold, verdict and
whether the score is a p-value or a distance in ``details``); ``drift.prediction`` does
the same for the model's output (binary: ``score``; multiclass: the predicted class
``label``, as a categorical distribution; regression: the predicted ``value``) and, for
regression, ``drift.residual`` for ``y_true - value`` of the labelled rows against the
reference's residuals (``raigov.monitors.drift_outputs``); ``drift.share_drifted`` is the share of tested input
columns that drift and ``drift.dataset_drift`` is 1 when that share reaches the model's
``monitoring.drift_share_threshold``. ``drift.score_ratio`` (segment ``column=<name>``)
puts every input column on one scale, its own threshold: a distance over its
threshold, or for a p-value ln(p) / ln(threshold) (1 at the threshold, 2 at its
square), so one rule can ask of every column that it stays well within its test. ``monitoring.drift`` overrides method and
threshold per column with Evidently's method names (``wasserstein``, ``psi``, ...).

Two engines give the same figures: ``evidently`` runs Evidently's ``DataDriftPreset``
on the raw reference and window (the definition; ~19 s at 1M reference rows), ``fast``
(the default) recomputes its statistics from the reference profile made at
registration (``raigov.monitors.reference_profile``) with ``raigov.monitors.drift_fast``. Methods the
fast engine does not implement run through Evidently's own stattest on that column.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from raigov.monitors.base import MetricInfo, MetricRow, WindowData, register_monitor
from raigov.monitors.drift_fast import (METHODS, ColumnDrift, column_drift, profile_distribution,
                                 window_distribution)
from raigov.monitors.drift_outputs import (OUTPUT_DRIFT_METRICS, RESIDUAL_COLUMN, output_columns,
                                          output_series)
from raigov.monitors.drift_multivariate import MULTIVARIATE_METRICS_INFO, multivariate_rows
from raigov.monitors.drift_text import TEXT_DRIFT_METRICS, text_drift_rows
from raigov.monitors.window_aggregates import distribution
from raigov.monitors.reference_profile import (ColumnKind, build_reference_profile,
                                        check_profile, drift_columns, usable_count)

if TYPE_CHECKING:
    from evidently.core.report import Snapshot

Engine = Literal["fast", "evidently"]
HTML_MAX_ROWS = 100_000

MISSING_IN_WINDOW = "column {column!r} is not in the window's frame"
MISSING_IN_REFERENCE = "column {column!r} is not in the reference data"
NO_VALUES = "column {column!r} has no usable value (all missing or infinite) in the {side}"
NOT_NUMBERS = "column {column!r} is declared numerical but holds other values: {error}"
NO_FEATURES_TESTED = "no input column could be tested for drift"
NO_REFERENCE_RESIDUALS = ("the reference data has no y_true and value to take residuals of; "
                          "register a reference with the true values to test residual drift")
# Evidently stattests whose score is a p-value (drift when small); the rest are distances.
P_VALUE_METHODS = frozenset({"anderson", "chisquare", "cramer_von_mises", "empirical_mmd",
                             "es", "fisher_exact", "g_test", "ks", "mannw", "t_test", "TVD",
                             "z"})


class DriftParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Engine = "fast"


@dataclass(frozen=True)
class Skipped:
    """A column no test could run on, and why."""

    column: str
    status: Literal["insufficient_data", "error"]
    reason: str


Outcome = ColumnDrift | Skipped
MIN_P_VALUE = 1e-300       # a p-value of 0 is taken as this (its ratio stays finite)
NO_RATIO = "the column's threshold puts no scale on its score (distance threshold <= 0 or p-value threshold outside (0, 1))"


#: What the drift family emits (the metric catalog is made of these declarations).
DECLARED_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("drift.share_drifted", "share of features whose drift test fires", False),
    MetricInfo("drift.dataset_drift", "1 when the share of drifted features reaches the "
               "model's drift_share_threshold, else 0", False),
    MetricInfo("drift.feature.<feature>", "drift score of one feature against the reference "
               "(method and threshold in details; Evidently's definitions)", None),
    MetricInfo("drift.prediction", "drift score of the model's score against the reference", None),
    MetricInfo("drift.score_ratio", "an input column's drift score on the scale of its own "
               "threshold (segment column=<name>): distance / threshold, or for a p-value "
               "ln(p) / ln(threshold); above 1 its test fires", False),
)
DECLARED_METRICS = tuple({m.name: m for m in (
    *DECLARED_METRICS, *OUTPUT_DRIFT_METRICS,
    *(MetricInfo(name, meaning, False) for name, meaning in MULTIVARIATE_METRICS_INFO),
    *TEXT_DRIFT_METRICS)}.values())   # text columns: raigov.monitors.drift_text

@register_monitor
class DriftMonitor:
    family: ClassVar[str] = "drift"
    metrics: ClassVar[tuple[MetricInfo, ...]] = DECLARED_METRICS

    def __init__(self, *, engine: Engine = "fast", multivariate: bool = True) -> None:
        self.params = DriftParams(engine=engine)
        self.multivariate = multivariate   # raigov.monitors.drift_multivariate

    def run(self, window: WindowData) -> list[MetricRow]:
        columns = tested_columns(window)
        outcomes = _ENGINES[self.params.engine](window, columns)
        outputs = output_columns(window.spec)
        inputs = drift_columns(window.spec)
        features = [outcomes[name] for name in inputs]
        engine, n = self.params.engine, window.n_rows
        rows = [_column_row(f"drift.feature.{o.column}", o, n=n, engine=engine)
                for o in features]
        rows += [_column_row(metric, outcomes[column], n=n, engine=engine)
                 for metric, (column, _kind) in outputs.items()]
        rows += _share_rows(features, window.spec.monitoring.drift_share_threshold,
                            n=n)
        rows += [_ratio_row(o) for o in features if isinstance(o, ColumnDrift)]
        rows += text_drift_rows(window)
        if self.multivariate:
            try:
                rows += multivariate_rows(window)
            except (ValueError, TypeError) as exc:   # the univariate rows still stand
                rows += [MetricRow(name, None, n=n, status="error",
                                   details={"error": f"{type(exc).__name__}: {exc}"})
                         for name, _meaning in MULTIVARIATE_METRICS_INFO]
        return rows


def tested_columns(window: WindowData) -> dict[str, ColumnKind]:
    """The model's input columns and its outputs' columns, with their kinds."""
    outputs = {column: kind for column, kind in output_columns(window.spec).values()}
    return {**drift_columns(window.spec), **outputs}


def _with_outputs(frame: pd.DataFrame, columns: dict[str, ColumnKind]) -> pd.DataFrame:
    """``frame`` with the derived residual column where it is tested."""
    if RESIDUAL_COLUMN not in columns or RESIDUAL_COLUMN in frame.columns:
        return frame
    residual = output_series(frame, RESIDUAL_COLUMN)
    return frame if residual is None else frame.assign(**{RESIDUAL_COLUMN: residual})


def _override(window: WindowData, column: str) -> tuple[str | None, float | None]:
    override = window.spec.monitoring.drift.get(column)
    return (override.method, override.threshold) if override else (None, None)


def _usable(window: WindowData, column: str, kind: ColumnKind) -> Skipped | None:
    """Why Evidently could not test ``column``, or None when it can."""
    for side, frame, missing in (("window", window.frame, MISSING_IN_WINDOW),
                                 ("reference", window.reference, MISSING_IN_REFERENCE)):
        if column not in frame.columns:
            return Skipped(column, "error", missing.format(column=column))
        try:
            count = usable_count(frame[column], kind=kind)
        except (TypeError, ValueError) as error:
            return Skipped(column, "error", NOT_NUMBERS.format(column=column, error=error))
        if count == 0:
            return Skipped(column, "insufficient_data", NO_VALUES.format(column=column,
                                                                         side=side))
    return None


def _fast_outcomes(window: WindowData, columns: dict[str, ColumnKind]) -> dict[str, Outcome]:
    profile = (check_profile(window.reference_profile) if window.reference_profile
               else build_reference_profile(window.reference, spec=window.spec))
    counted = ({} if window.aggregates is None     # an aggregating engine: one pass
               else window.aggregates.value_counts(list(columns)))
    return {column: _fast_column(window, profile, column, kind, counted.get(column))
            for column, kind in columns.items()}


def _fast_column(window: WindowData, profile: dict[str, Any], column: str,
                 kind: ColumnKind, counted: pd.DataFrame | None = None) -> Outcome:
    series = None if counted is not None else output_series(window.frame, column)
    if series is None and counted is None:
        return Skipped(column, "error", MISSING_IN_WINDOW.format(column=column))
    entry = profile["columns"].get(column)
    if entry is None and column == RESIDUAL_COLUMN:
        return Skipped(column, "insufficient_data", NO_REFERENCE_RESIDUALS)
    if entry is None:
        return Skipped(column, "error", MISSING_IN_REFERENCE.format(column=column))
    try:
        cur = (distribution(counted, kind=kind) if counted is not None
               else window_distribution(series, kind=kind))
    except (TypeError, ValueError) as error:
        return Skipped(column, "error", NOT_NUMBERS.format(column=column, error=error))
    ref = profile_distribution(entry)
    for side, dist in (("window", cur), ("reference", ref)):
        if dist.n == 0:
            return Skipped(column, "insufficient_data", NO_VALUES.format(column=column,
                                                                         side=side))
    method, threshold = _override(window, column)
    if method is not None and method not in METHODS:
        return _evidently_stattest(window, column, kind, method, threshold)
    return column_drift(column, ref, cur, kind=kind, method=method, threshold=threshold)


def _evidently_stattest(window: WindowData, column: str, kind: ColumnKind, method: str,
                        threshold: float | None) -> ColumnDrift:
    """A method the fast engine lacks: Evidently's own stattest on the raw columns."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    ref, cur = (_clean(output_series(frame, column))
                for frame in (window.reference, window.frame))
    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    test = get_stattest(ref, cur, column_type, method)
    result = test(ref, cur, column_type, threshold)
    return ColumnDrift(column=column, kind=kind, method=test.name, label=test.display_name,
                       stat_kind="p_value" if test.name in P_VALUE_METHODS else "distance",
                       threshold=float(result.actual_threshold),
                       score=float(result.drift_score), drifted=bool(result.drifted),
                       n_reference=len(ref), n_current=len(cur))


def _clean(series: pd.Series) -> pd.Series:
    return series.replace([float("inf"), float("-inf")], float("nan")).dropna()


def _evidently_outcomes(window: WindowData,
                        columns: dict[str, ColumnKind]) -> dict[str, Outcome]:
    window = replace(window, frame=_with_outputs(window.frame, columns),
                     reference=_with_outputs(window.reference, columns))
    outcomes: dict[str, Outcome] = {}
    for column, kind in columns.items():
        skipped = _usable(window, column, kind)
        if skipped is not None:
            outcomes[column] = skipped
    usable = {c: k for c, k in columns.items() if c not in outcomes}
    if usable:
        snapshot = evidently_snapshot(window, usable, window.frame, window.reference)
        for column, drift in parse_snapshot(snapshot, usable).items():
            outcomes[column] = replace(
                drift, n_reference=usable_count(window.reference[column], kind=usable[column]),
                n_current=usable_count(window.frame[column], kind=usable[column]))
    return outcomes


def evidently_snapshot(window: WindowData, columns: dict[str, ColumnKind],
                       current: pd.DataFrame, reference: pd.DataFrame) -> "Snapshot":
    """Evidently's DataDriftPreset on ``columns`` with the model's overrides."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in columns.items() if k == "numerical"],
        categorical_columns=[c for c, k in columns.items() if k == "categorical"])
    overrides = {c: _override(window, c) for c in columns}
    preset = DataDriftPreset(
        columns=list(columns), drift_share=window.spec.monitoring.drift_share_threshold,
        per_column_method={c: m for c, (m, _) in overrides.items() if m is not None} or None,
        per_column_threshold={c: t for c, (_, t) in overrides.items() if t is not None} or None)
    with warnings.catch_warnings():  # NumPy/SciPy noise, e.g. chi-square on unseen categories
        warnings.simplefilter("ignore", RuntimeWarning)
        frames = [Dataset.from_pandas(f[list(columns)], data_definition=definition)
                  for f in (current, reference)]
        return Report([preset], include_tests=True).run(*frames)


def parse_snapshot(snapshot: "Snapshot", columns: dict[str, ColumnKind]) -> dict[str, ColumnDrift]:
    """Per-column results of a DataDriftPreset snapshot: score, method, threshold and
    the verdict of its drift test."""
    data = json.loads(snapshot.json())
    failed = {t["metric_config"]["metric_id"] for t in data["tests"] if t["status"] == "FAIL"}
    names = _method_names()
    out: dict[str, ColumnDrift] = {}
    for metric in data["metrics"]:
        config = metric["config"]
        if not config["type"].endswith(":ValueDrift") or config["column"] not in columns:
            continue
        name = names.get(config["method"], config["method"])
        label = METHODS[name].label if name in METHODS else config["method"]
        out[config["column"]] = ColumnDrift(
            column=config["column"], kind=columns[config["column"]], method=name, label=label,
            stat_kind="p_value" if name in P_VALUE_METHODS else "distance",
            threshold=float(config["threshold"]), score=float(metric["value"]),
            drifted=metric["id"] in failed, n_reference=0, n_current=0)
    return out


def _method_names() -> dict[str, str]:
    """Evidently's stattest display names (and names) -> names."""
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    tests = [t for by_type in _registered_stat_tests.values() for t in by_type.values()]
    return {**{t.display_name: t.name for t in tests}, **{t.name: t.name for t in tests}}


def drift_report_html(window: WindowData, *, max_rows: int | None = HTML_MAX_ROWS,
                      seed: int = 0) -> str:
    """Evidently's own HTML drift report for ``window`` (a standalone page, the same
    columns, methods and thresholds as the monitor), on a seeded sample of at most
    ``max_rows`` rows of the window and of the reference (None: every row; Evidently
    takes ~3 s at 100k x 100k rows and ~19 s with 1M reference rows). Captured text
    that could break out of Evidently's unescaped data script is made inert first
    (:mod:`raigov.monitors.report_safety`), so every caller gets a safe page."""
    from raigov.monitors.report_safety import safe_report_html

    return safe_report_html(window, lambda w: _evidently_html(w, max_rows=max_rows, seed=seed))


def _evidently_html(window: WindowData, *, max_rows: int | None, seed: int) -> str:
    tested = tested_columns(window)
    window = replace(window, frame=_with_outputs(window.frame, tested),
                     reference=_with_outputs(window.reference, tested))
    columns = {c: k for c, k in tested.items() if _usable(window, c, k) is None}
    current, reference = (f if max_rows is None or len(f) <= max_rows
                          else f.sample(max_rows, random_state=seed)
                          for f in (window.frame, window.reference))
    snapshot = evidently_snapshot(window, columns, current, reference)
    return snapshot.get_html_str(as_iframe=False)


def _column_row(metric: str, outcome: Outcome, *, n: int, engine: Engine) -> MetricRow:
    if isinstance(outcome, Skipped):
        return MetricRow(metric, None, n=n, status=outcome.status,
                         details={"reason": outcome.reason, "engine": engine})
    return MetricRow(metric, outcome.score, n=outcome.n_current,
                     details={**outcome.details(), "engine": engine})


def _ratio_row(outcome: ColumnDrift) -> MetricRow:
    """``drift.score_ratio`` of one tested column (see the module docstring)."""
    score, threshold = outcome.score, outcome.threshold
    if outcome.stat_kind == "distance":
        ratio = score / threshold if threshold > 0 else None
    elif 0 < threshold < 1:
        ratio = math.log(max(score, MIN_P_VALUE)) / math.log(threshold)
    else:
        ratio = None
    details = {"score": score, "threshold": threshold, "method": outcome.method,
               "stattest_kind": outcome.stat_kind, "drifted": outcome.drifted}
    return MetricRow("drift.score_ratio", ratio, segment=f"column={outcome.column}",
                     n=outcome.n_current, status="ok" if ratio is not None else "error",
                     details=details if ratio is not None else {**details,
                                                                "reason": NO_RATIO})


def _share_rows(features: list[Outcome], threshold: float, *, n: int) -> list[MetricRow]:
    tested = [o for o in features if isinstance(o, ColumnDrift)]
    if not tested:
        return [MetricRow(m, None, n=n, status="insufficient_data",
                          details={"reason": NO_FEATURES_TESTED})
                for m in ("drift.share_drifted", "drift.dataset_drift")]
    drifted = sorted(o.column for o in tested if o.drifted)
    share = len(drifted) / len(tested)
    details = {"drifted_columns": drifted, "tested_columns": len(tested),
               "share_drifted": share, "drift_share_threshold": threshold}
    return [MetricRow("drift.share_drifted", share, n=n, details=details),
            MetricRow("drift.dataset_drift", float(share >= threshold), n=n, details=details)]


_ENGINES: dict[str, Callable[[WindowData, dict[str, ColumnKind]], dict[str, Outcome]]] = {
    "fast": _fast_outcomes, "evidently": _evidently_outcomes}
