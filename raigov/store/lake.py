"""The lake: append-only, hive-partitioned Parquet segments, read through DuckDB.

``lake/<table>/model=<M>/date=<YYYY-MM-DD>/<segment>.parquet`` for the tables
``predictions``, ``feedback`` and ``quarantine``. This module is the one place that
turns lake paths into SQL; readers get an in-memory DuckDB connection with views.
"""

from __future__ import annotations

import datetime as dt
import glob
from urllib.parse import quote
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

from raigov.home import LAKE_TABLES, Home
from raigov.store.parquet_crypto import is_encrypted

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


def segment_files(home: Home, table: str, *, model: str | None = None) -> list[str]:
    """Every sealed segment of one lake table (one model's partitions when given)."""
    if table not in LAKE_TABLES:
        raise ValueError(f"unknown lake table {table!r}; expected one of {LAKE_TABLES}")
    model_part = "*" if model is None else f"model={model_key(model)}"
    return sorted(glob.glob(str(home.lake_table(table) / model_part / "date=*" / "*.parquet")))


def scan_sql(home: Home, table: str, *, model: str | None = None,
             files: list[str] | None = None, decrypted: str | None = None) -> str:
    """A FROM-clause expression over one lake table (one model's partitions when given).

    Returns an empty relation of the table's fixed columns when no segment exists yet.
    ``files``: the plain (unencrypted) segments to read, when not every segment is
    plain; ``decrypted``: the name of a registered Arrow relation holding the rows of the
    encrypted ones (see :func:`lake_connection`).
    """
    listed = None
    if files is None:
        model_part = "*" if model is None else f"model={model_key(model)}"
        pattern = str(home.lake_table(table) / model_part / "date=*" / "*.parquet")
        listed = _quote(pattern) if glob.glob(pattern) else None
    elif files:
        listed = "[" + ", ".join(_quote(f) for f in files) + "]"
    parts = [f"SELECT * FROM ({_EMPTY[table]})"]
    if listed:
        # The empty relation of the fixed columns first: segments written before a
        # column existed (an older raigov) still read, with NULL in it.
        parts.append(f"SELECT * FROM read_parquet({listed}, hive_partitioning = true, "
                     f"union_by_name = true, hive_types = {{'model': 'VARCHAR', "
                     f"'date': 'DATE'}})")
    if decrypted:
        parts.append(f"SELECT * FROM {decrypted}")
    if len(parts) == 1:
        return f"({_EMPTY[table]})"
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


def read_encrypted(home: Home, files: list[str], *,
                   columns: list[str] | None = None) -> "pa.Table":
    """The rows of encrypted segments, decrypted with the data key through pyarrow,
    with the ``model`` and ``date`` partition columns taken from their paths."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from urllib.parse import unquote

    from raigov.store.parquet_crypto import read_options

    options = read_options(home)
    tables = []
    for name in files:
        part = pq.read_table(name, columns=columns, **options)
        path = Path(name)
        model = unquote(path.parent.parent.name.removeprefix("model="))
        day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
        part = part.append_column("model", pa.array([model] * part.num_rows, pa.string()))
        part = part.append_column("date", pa.array([day] * part.num_rows, pa.date32()))
        tables.append(part)
    return pa.concat_tables(tables, promote_options="permissive")


def labelled_sql(home: Home, *, model: str | None = None,
                 sources: dict[str, str] | None = None) -> str:
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
        f"FROM {_source(home, 'predictions', model, sources)} p LEFT JOIN ("
        f"SELECT prediction_id, "
        f"coalesce(arg_max(v, received_at) FILTER (WHERE c), "
        f"arg_min(v, received_at) FILTER (WHERE NOT c)) AS y_true, "
        f"coalesce(max(received_at) FILTER (WHERE c), "
        f"min(received_at) FILTER (WHERE NOT c)) AS received_at, "
        f"count(*) FILTER (WHERE c) AS corrections "
        f"FROM (SELECT prediction_id, coalesce(y_value, y_true::DOUBLE) AS v, received_at, "
        f"coalesce(correction, false) AS c "
        f"FROM {_source(home, 'feedback', model, sources)}) GROUP BY prediction_id) f "
        f"USING (prediction_id))")


def _source(home: Home, table: str, model: str | None, sources: dict[str, str] | None) -> str:
    return sources[table] if sources else scan_sql(home, table, model=model)


@contextmanager
def lake_connection(home: Home, *, model: str | None = None,
                    threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with views ``predictions``, ``feedback``,
    ``quarantine`` and ``labelled`` over the lake (one model's partitions when given).

    Reading Parquet takes no lock, so any number of processes may read while writers
    seal new segments; a segment appears atomically (it is renamed into place).

    Encrypted segments (a model with a ``privacy`` section) cannot be scanned by DuckDB
    with per-column keys: they are decrypted through pyarrow with the data key and
    DuckDB scans the Arrow rows (registered as ``_decrypted_<table>``)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        sources = {}
        for table in LAKE_TABLES:
            files = segment_files(home, table, model=model)
            locked = [f for f in files if is_encrypted(f)]
            decrypted = None
            if locked:
                decrypted = f"_decrypted_{table}"
                con.register(decrypted, read_encrypted(home, locked))
            plain = [f for f in files if f not in set(locked)] if locked else None
            sources[table] = scan_sql(home, table, model=model, files=plain,
                                      decrypted=decrypted)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {sources[table]}")
        con.execute(f"CREATE VIEW labelled AS SELECT * FROM "
                    f"{labelled_sql(home, model=model, sources=sources)}")
        yield con
    finally:
        con.close()
