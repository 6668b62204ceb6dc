"""The lake: append-only, hive-partitioned Parquet segments, read through DuckDB.

``lake/<table>/model=<M>/date=<YYYY-MM-DD>/<segment>.parquet`` for the tables
``predictions``, ``feedback`` and ``quarantine``. This module is the one place that
turns lake paths into SQL; readers get an in-memory DuckDB connection with views.
"""

from __future__ import annotations

import glob
from urllib.parse import quote
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from raigov.home import LAKE_TABLES, Home

# Columns that capture writes next to a model's input columns. Input (feature or
# sensitive) columns may not use these names; ``model`` and ``date`` come from the path.
PREDICTION_COLUMNS = ("prediction_id", "version", "ts", "captured_at", "label", "score",
                      "value", "probabilities", "latency_ms", "request_id", "key")
FEEDBACK_COLUMNS = ("prediction_id", "y_true", "y_value", "received_at", "correction", "reason",
                    "key")
QUARANTINE_COLUMNS = ("quarantine_id", "request_id", "received_at", "version", "row_index",
                      "payload", "reasons", "reason", "key")
# ``key``: the name of the API key that sent the row (NULL: the Python logger without
# one, or a segment written before keys existed).
RESERVED_COLUMNS = frozenset(PREDICTION_COLUMNS) | {"model", "date", "y_true",
                                                     "received_at", "label_received_at",
                                                     "label_corrections"}

_EMPTY = {
    "predictions": "SELECT NULL::VARCHAR AS prediction_id, NULL::INTEGER AS version, "
                   "NULL::TIMESTAMPTZ AS ts, NULL::TIMESTAMPTZ AS captured_at, "
                   "NULL::BIGINT AS label, NULL::DOUBLE AS score, NULL::DOUBLE AS value, "
                   "NULL::DOUBLE[] AS probabilities, NULL::DOUBLE AS latency_ms, "
                   "NULL::VARCHAR AS request_id, NULL::VARCHAR AS key, NULL::VARCHAR AS model, "
                   "NULL::DATE AS date WHERE false",
    "feedback": "SELECT NULL::VARCHAR AS prediction_id, NULL::BIGINT AS y_true, "
                "NULL::DOUBLE AS y_value, "
                "NULL::TIMESTAMPTZ AS received_at, NULL::BOOLEAN AS correction, "
                "NULL::VARCHAR AS reason, NULL::VARCHAR AS key, NULL::VARCHAR AS model, "
                "NULL::DATE AS date WHERE false",
    "quarantine": "SELECT NULL::VARCHAR AS quarantine_id, NULL::VARCHAR AS request_id, "
                  "NULL::TIMESTAMPTZ AS received_at, NULL::INTEGER AS version, "
                  "NULL::INTEGER AS row_index, NULL::VARCHAR AS payload, "
                  "NULL::VARCHAR AS reasons, NULL::VARCHAR AS reason, NULL::VARCHAR AS key, "
                  "NULL::VARCHAR AS model, NULL::DATE AS date WHERE false",
}


def model_key(model: str) -> str:
    """The partition value for a model name: URL-escaped (DuckDB unescapes hive values),
    so any name, even ``<img src=x>`` or one with a slash, is a safe directory name."""
    return quote(model, safe="")


def partition_dir(home: Home, table: str, model: str, date: str) -> Path:
    return home.lake_table(table) / f"model={model_key(model)}" / f"date={date}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan_sql(home: Home, table: str, *, model: str | None = None) -> str:
    """A FROM-clause expression over one lake table (one model's partitions when given).

    Returns an empty relation of the table's fixed columns when no segment exists yet.
    """
    if table not in LAKE_TABLES:
        raise ValueError(f"unknown lake table {table!r}; expected one of {LAKE_TABLES}")
    model_part = "*" if model is None else f"model={model_key(model)}"
    pattern = str(home.lake_table(table) / model_part / "date=*" / "*.parquet")
    if not glob.glob(pattern):
        return f"({_EMPTY[table]})"
    # The empty relation of the fixed columns first: segments written before a column
    # existed (an older raigov) still read, with NULL in it.
    return (f"(SELECT * FROM ({_EMPTY[table]}) UNION ALL BY NAME SELECT * FROM "
            f"read_parquet({_quote(pattern)}, hive_partitioning = true, "
            f"union_by_name = true, hive_types = {{'model': 'VARCHAR', 'date': 'DATE'}}))")


def labelled_sql(home: Home, *, model: str | None = None) -> str:
    """Predictions with the label in force where one arrived: ``y_true`` (DOUBLE) is
    the true class index for classifiers and the true value for regression.

    The first label of an id stands; a correction (``correction`` true) is kept beside
    it and the latest correction is the label in force. ``label_received_at`` is when
    the label in force arrived, ``label_corrections`` how many corrections the id had
    (so a window whose labels were corrected is computed again). Segments from before
    corrections existed read with ``correction`` NULL: plain labels."""
    return (
        f"(SELECT p.*, f.y_true, f.received_at AS label_received_at, "
        f"f.corrections AS label_corrections "
        f"FROM {scan_sql(home, 'predictions', model=model)} p LEFT JOIN ("
        f"SELECT prediction_id, "
        f"coalesce(arg_max(v, received_at) FILTER (WHERE c), "
        f"arg_min(v, received_at) FILTER (WHERE NOT c)) AS y_true, "
        f"coalesce(max(received_at) FILTER (WHERE c), "
        f"min(received_at) FILTER (WHERE NOT c)) AS received_at, "
        f"count(*) FILTER (WHERE c) AS corrections "
        f"FROM (SELECT prediction_id, coalesce(y_value, y_true::DOUBLE) AS v, received_at, "
        f"coalesce(correction, false) AS c "
        f"FROM {scan_sql(home, 'feedback', model=model)}) GROUP BY prediction_id) f "
        f"USING (prediction_id))")


@contextmanager
def lake_connection(home: Home, *, model: str | None = None,
                    threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with views ``predictions``, ``feedback``,
    ``quarantine`` and ``labelled`` over the lake (one model's partitions when given).

    Reading Parquet takes no lock, so any number of processes may read while writers
    seal new segments; a segment appears atomically (it is renamed into place)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        for table in LAKE_TABLES:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {scan_sql(home, table, model=model)}")
        con.execute(f"CREATE VIEW labelled AS SELECT * FROM {labelled_sql(home, model=model)}")
        yield con
    finally:
        con.close()
