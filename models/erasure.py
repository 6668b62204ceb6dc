"""Retention and erasure of captured data.

``apply_retention``: per model, lake partitions (predictions, feedback, quarantine)
dated before today minus ``monitoring.retention_days`` are removed (renamed aside
atomically while no reader reads, then deleted), with one ``data.retention_applied``
ledger event carrying the counts.

``erase``: the rows of chosen predictions (by id, or by an input column's value) are
dropped from the predictions, feedback and quarantine tables: every affected partition
is rewritten through the same crash-safe publish as compaction
(:mod:`raigov.store.compaction`), after the spool is sealed so no copy waits there.
The ledger gets ``data.erased`` with counts and never an erased value; the catalog
keeps the SHA-256 of each erased id so ``raigov explain`` can say it was erased.
Metric rows stay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from raigov.errors import InputError, RaigovError
from raigov.home import LAKE_TABLES, Home
from raigov.store.compaction import publish, rewriting, sweep
from raigov.store.lake import (count_rows, no_readers, partition_files, partitions,
                               read_parquet_table)
from raigov.store.lake_fs import lake_fs


def id_digest(prediction_id: str) -> str:
    return hashlib.sha256(prediction_id.encode()).hexdigest()


# -- retention ------------------------------------------------------------------------

def apply_retention(home: Home, *, model: str | None = None, now: dt.datetime | None = None,
                    actor: str = "raigov") -> dict[str, dict[str, int]]:
    """Remove expired partitions; returns {model: {table: partitions removed}}."""
    from raigov.ledger.chain import append_event
    from raigov.models.registry import list_models
    from raigov.store.catalog import catalog

    today = (now or dt.datetime.now(dt.timezone.utc)).date()
    removed: dict[str, dict[str, int]] = {}
    rows: dict[str, dict[str, int]] = {}
    fs = lake_fs(home)
    if not fs.exists():
        return removed
    with rewriting(home):
        for registered in list_models(home):
            if model is not None and registered.name != model:
                continue
            days = registered.spec.monitoring.retention_days
            cutoff = today - dt.timedelta(days=days)
            for table in LAKE_TABLES:
                expired = partitions(home, table, registered.name,
                                     until=cutoff - dt.timedelta(days=1))
                if not expired:
                    continue
                n_rows = _count_rows(home, expired)
                aside = []
                with no_readers(home, wait=True):
                    for directory in expired:
                        aside.append(fs.hide_partition(directory, _publish_empty(home, directory)))
                for token in aside:
                    fs.drop_hidden(token)
                removed.setdefault(registered.name, {})[table] = len(expired)
                rows.setdefault(registered.name, {})[table] = n_rows
            if registered.name in removed:
                with catalog(home) as con:
                    append_event(con, "data.retention_applied", actor=actor,
                                 subject=registered.name,
                                 payload={"retention_days": days, "before": cutoff.isoformat(),
                                          "partitions": removed[registered.name],
                                          "rows": rows[registered.name]})
    return removed


def _publish_empty(home: Home, directory):
    """Hide every file of ``directory`` behind a manifest that lists none (where a
    partition cannot be renamed aside: object storage)."""
    def hide() -> None:
        publish(home, directory, [], partition_files(directory), reason="retention",
                sweep_wait=False, sweep_after=False)
    return hide


def _count_rows(home: Home, directories) -> int:
    import duckdb

    files = [p for d in directories for p in partition_files(d)]
    if not files:
        return 0
    con = duckdb.connect(":memory:")
    try:
        return count_rows(files, con=con, home=home)
    finally:
        con.close()


# -- erasure --------------------------------------------------------------------------

@dataclass
class Erased:
    model: str
    predictions: int = 0
    feedback: int = 0
    quarantine: int = 0
    partitions: int = 0
    ids: list[str] = field(default_factory=list)


def _seal_spool(home: Home, wanted: set[str] | None, column: str | None, value: str | None,
                wait_s: float) -> None:
    """Seal every spool file nobody writes; wait for live writers (they seal every
    second) until no spool file holds a row to erase."""
    from raigov.models.capture.committer import CaptureStats
    from raigov.models.capture.sealer import Sealer
    from raigov.models.capture.spool import scan_spool
    from raigov.store.parquet_crypto import load_data_key

    deadline = time.monotonic() + wait_s
    while True:
        Sealer(home, CaptureStats()).recover()
        holding = []
        for wal in sorted(home.spool.glob("slot-*/*.wal")) if home.spool.exists() else []:
            try:
                frames = scan_spool(wal, data_key=load_data_key(home)).frames
            except FileNotFoundError:
                continue
            for frame in frames:
                if _matches(frame.table, wanted, column, value).any():
                    holding.append(wal)
                    break
        if not holding:
            return
        if time.monotonic() > deadline:
            raise RaigovError(f"Spool files {', '.join(str(p) for p in holding)} still hold rows "
                              f"to erase after {wait_s:.0f} s (a running server seals them "
                              "within seconds); run the erase again.")
        time.sleep(0.5)


def _matches(table: pa.Table, ids: set[str] | None, column: str | None, value: str | None):
    import numpy as np

    if ids is not None and "prediction_id" in table.column_names:
        return np.asarray(pc.is_in(table.column("prediction_id"),
                                   value_set=pa.array(sorted(ids), pa.string())).fill_null(False))
    if column is not None and column in table.column_names:
        return np.asarray(pc.equal(pc.cast(table.column(column), pa.string()), value).fill_null(False))
    if column is not None and "payload" in table.column_names:   # quarantine rows
        import json
        out = []
        for text in table.column("payload").to_pylist():
            try:
                row = json.loads(text) if text else {}
            except ValueError:
                row = {}
            out.append(isinstance(row, dict) and column in row and str(row[column]) == value)
        return np.asarray(out, dtype=bool)
    return np.zeros(table.num_rows, dtype=bool)


def erase(home: Home, model: str, *, prediction_ids: list[str] | None = None,
          where: str | None = None, reason: str, actor: str = "raigov",
          wait_s: float = 15.0) -> Erased:
    from raigov.ledger.chain import append_event
    from raigov.models.registry import get_model
    from raigov.store.catalog import catalog

    registered = get_model(home, model)
    if not reason or not reason.strip():
        raise InputError("--reason must say why the data is erased.")
    column = value = None
    if where is not None:
        column, sep, value = where.partition("=")
        if not sep or not column:
            raise InputError(f"--where {where!r} must be COLUMN=VALUE.")
        if column not in registered.spec.input_columns:
            raise InputError(f"--where column {column!r} is not an input column of {model} "
                             f"({', '.join(registered.spec.input_columns)}).")
    if not prediction_ids and where is None:
        raise InputError("Give --prediction-id ID (one or more) or --where COLUMN=VALUE.")
    ids = set(prediction_ids or [])
    _seal_spool(home, ids if prediction_ids else None, column, value, wait_s)
    result = Erased(model)
    with rewriting(home):
        if where is not None:    # the ids of the matching predictions, for their labels
            for directory in partitions(home, "predictions", model):
                files = partition_files(directory)
                if files:
                    table = read_parquet_table(files, home=home)
                    hit = _matches(table, None, column, value)
                    ids |= set(pc.filter(table.column("prediction_id"), pa.array(hit)).to_pylist())
        for table_name in LAKE_TABLES:
            for directory in partitions(home, table_name, model):
                files = partition_files(directory)
                if not files:
                    continue
                table = read_parquet_table(files, home=home)
                if table_name == "quarantine":
                    hit = _matches(table, None, column, value) if column else \
                        _matches(table, None, None, None)
                else:
                    hit = _matches(table, ids, None, None)
                n = int(hit.sum())
                if not n:             # an earlier, interrupted erase may have left files
                    sweep(home, directory, wait=True)
                    continue
                kept = table.filter(pa.array(~hit))
                publish(home, directory, [kept] if kept.num_rows else [], files,
                        reason="erasure", sweep_wait=True)
                setattr(result, table_name, getattr(result, table_name) + n)
                result.partitions += 1
    result.ids = sorted(ids)
    now = dt.datetime.now(dt.timezone.utc)
    with catalog(home) as con:
        event = append_event(con, "data.erased", actor=actor, subject=model, payload={
            "reason": reason, "selector": "prediction-id" if prediction_ids else f"where:{column}",
            "predictions": result.predictions, "feedback": result.feedback,
            "quarantine": result.quarantine, "partitions": result.partitions})
        con.executemany("INSERT INTO erasures VALUES (?, ?, ?, ?) ON CONFLICT (model, id_sha256) "
                        "DO UPDATE SET erased_at = excluded.erased_at, "
                        "ledger_seq = excluded.ledger_seq",
                        [(model, id_digest(i), now, event.seq) for i in sorted(ids)])
    return result


def erased_at(home: Home, model: str, prediction_id: str) -> dt.datetime | None:
    from raigov.store.catalog import catalog

    with catalog(home, read_only=True) as con:
        row = con.execute("SELECT erased_at FROM erasures WHERE model = ? AND id_sha256 = ?",
                          [model, id_digest(prediction_id.strip())]).fetchone()
    return row[0] if row else None
