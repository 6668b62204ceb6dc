"""The monitors on a data file (Parquet or CSV) instead of a live model's window: what
``raigov policy-check --data`` runs. The caller names the label, prediction, score and
sensitive columns; every number is computed by the same monitors as live windows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from raigov.monitors.base import MetricRow, WindowData
from raigov.canonical import utcnow
from raigov.errors import InputError, did_you_mean

FILE_MISSING = "Data file {path} does not exist."
FILE_FORMAT = "Data file {path}: cannot read it as {kind} ({error})."
COLUMN_MISSING = "Data file {path} has no column '{column}' (given as {option}).{hint}"
NOT_BINARY = ("Data file {path}, column '{column}' (row {row}): value {value!r} is not a "
              "binary class; expected 0/1 or true/false.")
SCORE_RANGE = "Data file {path}, column '{column}' (row {row}): score {value!r} is not in [0, 1]."


@dataclass(frozen=True)
class OfflineResult:
    rows: list[MetricRow]
    n: int
    labelled: int
    path: Path


def read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(FILE_MISSING.format(path=path))
    kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
    try:
        return pd.read_parquet(path) if kind == "Parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - the reader's own words, with the file
        raise InputError(FILE_FORMAT.format(path=path, kind=kind, error=exc)) from exc


def _binary(frame: pd.DataFrame, column: str, path: Path, *, nullable: bool) -> pd.Series:
    values = frame[column]
    mapped = values.map(lambda v: {True: 1, False: 0, 1: 1, 0: 0, "1": 1, "0": 0,
                                   "true": 1, "false": 0}.get(v if not isinstance(v, str) else v.lower(), np.nan)
                        if pd.notna(v) else np.nan)
    bad = mapped.isna() & (values.notna() | (not nullable))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(NOT_BINARY.format(path=path, column=column, row=row + 1,
                                           value=values.iloc[row]))
    return mapped.astype("float64")


def _require(frame: pd.DataFrame, path: Path, columns: dict[str, str]) -> None:
    for option, column in columns.items():
        if column not in frame.columns:
            raise InputError(COLUMN_MISSING.format(path=path, column=column, option=option,
                                                   hint=did_you_mean(column, list(frame.columns))))


def run_on_file(path: str | Path, *, label: str, prediction: str, score: str | None = None,
                sensitive: tuple[str, ...] = (), intersections: tuple[tuple[str, ...], ...] = (),
                min_group_size: int = 30, families: tuple[str, ...] = ("performance", "fairness"),
                name: str = "offline") -> OfflineResult:
    """Run the monitor families on one file; returns their metric rows."""
    from raigov.models.spec import InputSchema, ModelSpec, MonitoringConfig
    from raigov.monitors.runner import compute_window

    path = Path(path)
    frame = read_table(path)
    named = {"--label": label, "--prediction": prediction,
             **({"--score": score} if score else {}),
             **{"--sensitive": s for s in sensitive}}
    _require(frame, path, named)
    for s in sensitive:
        _require(frame, path, {"--sensitive": s})
    window = pd.DataFrame({s: frame[s].astype("string") for s in sensitive})
    window["y_true"] = _binary(frame, label, path, nullable=True)
    window["label"] = _binary(frame, prediction, path, nullable=False)
    window["score"] = _scores(frame, score, path) if score else np.nan
    spec = ModelSpec(name=name, inputs=InputSchema.infer(window[list(sensitive)], nullable=True),
                     features=(), sensitive=tuple(sensitive),
                     monitoring=MonitoringConfig(min_group_size=min_group_size,
                                                 intersections=intersections))
    now = utcnow()
    data = WindowData(spec=spec, version=0, start=now, end=now, frame=window,
                      reference=window.iloc[:0])
    rows, _errors = compute_window(data, families=families)
    return OfflineResult(rows, len(window), int(window["y_true"].notna().sum()), path)


def _scores(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values < 0) | (values > 1)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(SCORE_RANGE.format(path=path, column=column, row=row + 1,
                                            value=frame[column].iloc[row]))
    return values.astype("float64")
