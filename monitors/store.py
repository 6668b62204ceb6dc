"""Metric rows in the catalog: written per window (replacing that window's earlier
rows, so a recomputation is idempotent) and read back for policies, the dashboard and
reports."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from raigov.monitors.base import MetricRow
from raigov.canonical import canonical_json, iso_utc, utcnow
from raigov.ledger.chain import append_event
from raigov.ledger.reconcile import WINDOW_EVENT, metric_window_digest
from raigov.store.catalog import catalog, insert_rows
from raigov.home import Home

COLUMNS = ["model", "version", "window_start", "window_end", "family", "metric", "segment",
           "value", "ci_low", "ci_high", "n", "status", "details", "run_id", "computed_at"]


def write_window(home: Home, *, model: str, version: int, start: dt.datetime, end: dt.datetime,
                 rows: list[MetricRow], n_rows: int, n_labelled: int, run_id: str,
                 n_corrections: int = 0, con: Any = None) -> None:
    """Replace one window's metric rows and remember its row, label and label
    correction counts (the window's "computed" mark). Given ``con`` (an open catalog
    transaction), the rows join that unit, so they commit with whatever else it holds
    (the window's findings, alerts and ledger events) or not at all."""
    if con is None:
        with catalog(home) as own:
            write_window(home, model=model, version=version, start=start, end=end, rows=rows,
                         n_rows=n_rows, n_labelled=n_labelled, run_id=run_id,
                         n_corrections=n_corrections, con=own)
        return
    now = utcnow()
    frame = pd.DataFrame([{
        "model": model, "version": version, "window_start": start, "window_end": end,
        "family": r.family, "metric": r.metric, "segment": r.segment, "value": r.value,
        "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n, "status": r.status,
        "details": canonical_json(r.details), "run_id": run_id, "computed_at": now}
        for r in rows], columns=COLUMNS)
    frame = frame.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64",
                          "n": "Int64"})
    con.execute("DELETE FROM metric_rows WHERE model = ? AND version = ? AND window_start = ?",
                [model, version, start])
    insert_rows(con, "metric_rows", COLUMNS, frame, json_columns=("details",))
    con.execute("INSERT INTO monitor_windows (model, version, window_start, "
                "window_end, rows, labelled_rows, run_id, computed_at, label_corrections) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, version, window_start) "
                "DO UPDATE SET window_end = excluded.window_end, rows = excluded.rows, "
                "labelled_rows = excluded.labelled_rows, run_id = excluded.run_id, "
                "computed_at = excluded.computed_at, "
                "label_corrections = excluded.label_corrections",
                [model, version, start, end, n_rows, n_labelled, run_id, now, n_corrections])
    digest, count = metric_window_digest(con, model, version, start)
    append_event(con, WINDOW_EVENT, actor="monitor", subject=f"{model}@{version}",
                 payload={"model": model, "version": version, "window_start": iso_utc(start),
                          "window_end": iso_utc(end), "run_id": run_id, "rows": n_rows,
                          "metric_rows": count, "rows_sha256": digest})


def computed_windows(home: Home, model: str) -> dict[tuple[int, dt.datetime], tuple[int, int, int]]:
    """(version, window start) -> (rows, labelled rows, label corrections) when it was
    last computed."""
    with catalog(home, read_only=True) as con:
        rows = con.execute("SELECT version, window_start, rows, labelled_rows, "
                           "coalesce(label_corrections, 0) FROM monitor_windows "
                           "WHERE model = ?", [model]).fetchall()
    return {(v, start): (n, lab, corr) for v, start, n, lab, corr in rows}


def read_metric_rows(home: Home, *, model: str | None = None, version: int | None = None,
                     since: dt.datetime | None = None, until: dt.datetime | None = None,
                     metric_prefix: str | None = None) -> pd.DataFrame:
    """Metric rows as a frame (details parsed), newest window last."""
    columns = ", ".join(c if c != "details" else "details::VARCHAR AS details" for c in COLUMNS)
    sql = (f"SELECT {columns} FROM metric_rows WHERE "
           "(? IS NULL OR model = ?) AND (? IS NULL OR version = ?) AND "
           "(? IS NULL OR window_start >= ?) AND (? IS NULL OR window_start < ?) AND "
           "(? IS NULL OR starts_with(metric, ?)) ORDER BY model, window_start, metric, segment")
    params = [model, model, version, version, since, since, until, until,
              metric_prefix, metric_prefix]
    with catalog(home, read_only=True) as con:
        frame = con.execute(sql, params).df()
    frame["details"] = frame["details"].map(lambda d: json.loads(d) if d else {})
    return frame


def to_metric_rows(frame: pd.DataFrame) -> list[MetricRow]:
    """Catalog rows back into MetricRow objects (what policies evaluate)."""
    def num(v):
        return None if v is None or pd.isna(v) else float(v)
    return [MetricRow(metric=r.metric, value=num(r.value), segment=r.segment,
                      ci_low=num(r.ci_low), ci_high=num(r.ci_high),
                      n=None if pd.isna(r.n) else int(r.n), status=r.status, details=r.details)
            for r in frame.itertuples(index=False)]
