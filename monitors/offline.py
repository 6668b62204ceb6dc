"""The monitors on a data file (Parquet or CSV) instead of a live model's window: what
``raigov policy-check --data`` runs. The caller names the output kind and the file's
columns; every number is computed by the same monitors as live windows.

The file's columns per kind (one reader per kind in :data:`FILE_READERS`):

- ``binary``: ``--label`` (the true class, 0/1 or true/false; empty: no label),
  ``--prediction`` (the predicted class, 0/1) and optionally ``--score`` (P(positive));
- ``multiclass``: ``--label`` and ``--prediction`` hold class names (empty label: none
  yet); ``--probabilities PREFIX`` optionally names one column per class,
  ``PREFIX<class>``, holding P(class). The classes are ``--classes`` (comma-separated,
  in the model's order), else the suffixes of the probability columns in file order,
  else the sorted names found in the two columns;
- ``regression``: ``--label`` the true value (empty: none yet), ``--prediction`` the
  predicted value (numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raigov.canonical import utcnow
from raigov.errors import InputError, did_you_mean
from raigov.monitors.base import MetricRow, WindowData
from raigov.registry import Registry

FILE_MISSING = "Data file {path} does not exist."
FILE_FORMAT = "Data file {path}: cannot read it as {kind} ({error})."
COLUMN_MISSING = "Data file {path} has no column '{column}' (given as {option}).{hint}"
NOT_BINARY = ("Data file {path}, column '{column}' (row {row}): value {value!r} is not a "
              "binary class; expected 0/1 or true/false.")
SCORE_RANGE = "Data file {path}, column '{column}' (row {row}): score {value!r} is not in [0, 1]."
NOT_A_CLASS = ("Data file {path}, column '{column}' (row {row}): {value!r} is not one of the "
               "classes {classes}.{hint}")
NOT_A_NUMBER = ("Data file {path}, column '{column}' (row {row}): {value!r} is not a finite "
                "number.")
NO_PROBABILITY_COLUMNS = ("Data file {path} has no column starting with '{prefix}' (given as "
                          "--probabilities); columns: {columns}.")
TOO_FEW_CLASSES = ("Data file {path}: a multiclass check needs 3 or more classes; found "
                   "{classes}.")


@dataclass(frozen=True)
class OfflineResult:
    rows: list[MetricRow]
    n: int
    labelled: int
    path: Path


@dataclass(frozen=True)
class FileColumns:
    """What the caller said the file holds."""

    label: str
    prediction: str
    score: str | None = None
    probabilities: str | None = None      # multiclass: the prefix of the per-class columns
    classes: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)


def read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(FILE_MISSING.format(path=path))
    kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
    try:
        return pd.read_parquet(path) if kind == "Parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - the reader's own words, with the file
        raise InputError(FILE_FORMAT.format(path=path, kind=kind, error=exc)) from exc


def _first_bad(bad: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(bad))[0])


def _binary(frame: pd.DataFrame, column: str, path: Path, *, nullable: bool) -> pd.Series:
    values = frame[column]
    mapped = values.map(lambda v: {True: 1, False: 0, 1: 1, 0: 0, "1": 1, "0": 0,
                                   "true": 1, "false": 0}.get(v if not isinstance(v, str) else v.lower(), np.nan)
                        if pd.notna(v) else np.nan)
    bad = mapped.isna() & (values.notna() | (not nullable))
    if bad.any():
        row = _first_bad(bad)
        raise InputError(NOT_BINARY.format(path=path, column=column, row=row + 1,
                                           value=values.iloc[row]))
    return mapped.astype("float64")


def _require(frame: pd.DataFrame, path: Path, columns: dict[str, str]) -> None:
    for option, column in columns.items():
        if column not in frame.columns:
            raise InputError(COLUMN_MISSING.format(path=path, column=column, option=option,
                                                   hint=did_you_mean(column, list(frame.columns))))


def _scores(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values < 0) | (values > 1)
    if bad.any():
        row = _first_bad(bad)
        raise InputError(SCORE_RANGE.format(path=path, column=column, row=row + 1,
                                            value=frame[column].iloc[row]))
    return values.astype("float64")


Reader = Callable[[pd.DataFrame, Path, FileColumns], tuple[dict[str, Any], dict[str, Any]]]
FILE_READERS: Registry[Reader] = Registry("output kind for --data")


@FILE_READERS.register("binary")
def _read_binary(frame: pd.DataFrame, path: Path, cols: FileColumns):
    if cols.score:
        _require(frame, path, {"--score": cols.score})
    window = {"y_true": _binary(frame, cols.label, path, nullable=True),
              "label": _binary(frame, cols.prediction, path, nullable=False),
              "score": _scores(frame, cols.score, path) if cols.score else np.nan}
    return window, {}


@FILE_READERS.register("multiclass")
def _read_multiclass(frame: pd.DataFrame, path: Path, cols: FileColumns):
    classes = _classes(frame, path, cols)
    y = _class_indices(frame, cols.label, classes, path, nullable=True)
    pred = _class_indices(frame, cols.prediction, classes, path, nullable=False)
    window: dict[str, Any] = {"y_true": y, "label": pred.astype(np.int64)}
    if cols.probabilities:
        names = [f"{cols.probabilities}{c}" for c in classes]
        _require(frame, path, {"--probabilities": n for n in names})
        proba = np.column_stack([_numbers(frame, n, path, nullable=False) for n in names])
        window["probabilities"] = list(proba)
        window["score"] = proba[np.arange(len(frame)), pred.astype(np.int64)]
    else:
        window["score"] = np.nan
    return window, {"classes": classes}


@FILE_READERS.register("regression")
def _read_regression(frame: pd.DataFrame, path: Path, cols: FileColumns):
    window = {"y_true": _numbers(frame, cols.label, path, nullable=True),
              "value": _numbers(frame, cols.prediction, path, nullable=False)}
    return window, {"classes": ()}


def _classes(frame: pd.DataFrame, path: Path, cols: FileColumns) -> tuple[str, ...]:
    if cols.classes:
        classes = cols.classes
    elif cols.probabilities:
        prefix = cols.probabilities
        classes = tuple(str(c)[len(prefix):] for c in frame.columns if str(c).startswith(prefix))
        if not classes:
            raise InputError(NO_PROBABILITY_COLUMNS.format(path=path, prefix=prefix,
                                                           columns=list(frame.columns)))
    else:
        found = pd.concat([frame[cols.label], frame[cols.prediction]]).dropna()
        classes = tuple(sorted({str(v) for v in found}))
    if len(classes) < 3:
        raise InputError(TOO_FEW_CLASSES.format(path=path, classes=list(classes)))
    return classes


def _class_indices(frame: pd.DataFrame, column: str, classes: tuple[str, ...], path: Path,
                   *, nullable: bool) -> np.ndarray:
    values = frame[column]
    index = {c: i for i, c in enumerate(classes)}
    mapped = values.map(lambda v: index.get(str(v), np.nan) if pd.notna(v) else np.nan)
    bad = mapped.isna() & (values.notna() | (not nullable))
    if bad.any():
        row = _first_bad(bad)
        value = values.iloc[row]
        raise InputError(NOT_A_CLASS.format(path=path, column=column, row=row + 1, value=value,
                                            classes=list(classes),
                                            hint=did_you_mean(str(value), list(classes))))
    return mapped.to_numpy(dtype=float)


def _numbers(frame: pd.DataFrame, column: str, path: Path, *, nullable: bool) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) & (frame[column].notna().to_numpy() | (not nullable))
    if bad.any():
        row = _first_bad(bad)
        raise InputError(NOT_A_NUMBER.format(path=path, column=column, row=row + 1,
                                             value=frame[column].iloc[row]))
    return values


def run_on_file(path: str | Path, *, label: str, prediction: str, score: str | None = None,
                sensitive: tuple[str, ...] = (), intersections: tuple[tuple[str, ...], ...] = (),
                min_group_size: int = 30, families: tuple[str, ...] = ("performance", "fairness"),
                name: str = "offline", kind: str = "binary", probabilities: str | None = None,
                classes: tuple[str, ...] = ()) -> OfflineResult:
    """Run the monitor families on one file of a ``kind`` model; returns their rows."""
    from raigov.models.spec import InputSchema, ModelSpec, MonitoringConfig
    from raigov.monitors.runner import compute_window

    reader = FILE_READERS.get(kind)
    path = Path(path)
    frame = read_table(path)
    _require(frame, path, {"--label": label, "--prediction": prediction})
    for s in sensitive:
        _require(frame, path, {"--sensitive": s})
    columns = FileColumns(label=label, prediction=prediction, score=score,
                          probabilities=probabilities, classes=tuple(classes))
    outputs, spec_fields = reader(frame, path, columns)
    window = pd.DataFrame({s: frame[s].astype("string") for s in sensitive}, index=frame.index)
    for column, values in outputs.items():
        window[column] = values
    spec = ModelSpec(name=name, output_kind=kind,
                     inputs=InputSchema.infer(window[list(sensitive)], nullable=True),
                     features=(), sensitive=tuple(sensitive), **spec_fields,
                     monitoring=MonitoringConfig(min_group_size=min_group_size,
                                                 intersections=intersections))
    now = utcnow()
    data = WindowData(spec=spec, version=0, start=now, end=now, frame=window,
                      reference=window.iloc[:0])
    rows, _errors = compute_window(data, families=families)
    return OfflineResult(rows, len(window), int(window["y_true"].notna().sum()), path)
