"""The lake: append-only, hive-partitioned Parquet segments, read through DuckDB.

``lake/<table>/model=<M>/date=<YYYY-MM-DD>/<segment>.parquet`` for the tables
``predictions``, ``feedback`` and ``quarantine``. This module is the one place that
turns lake paths into SQL; readers get an in-memory DuckDB connection with views.

Each partition may hold a manifest (``_manifest.json``) written by compaction or an
erasure rewrite: the files it lists (``c-*.parquet``) are visible, the segment names it
lists as replaced are not (a segment resealed after a crash stays hidden), and a
``c-*.parquet`` file it does not list is an unpublished leftover. Readers list files
through :func:`partition_files` while holding the lake's shared reader lock, so
superseded files are deleted only when no reader can still be opening them.

Every Parquet file the lake writes goes through :func:`write_parquet`, and every file
it reads row by row through :func:`read_parquet_table`. Files are listed, read and
written through the lake's filesystem (:mod:`raigov.store.lake_fs`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
from urllib.parse import quote
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from raigov.home import LAKE_TABLES, Home
from raigov.store.lake_fs import fs_of, lake_fs
from raigov.store.parquet_crypto import ENCRYPTED_MAGIC

MANIFEST = "_manifest.json"
PUBLISHED_PREFIX = "c-"       # files written by compaction or a rewrite; visible once listed
READERS_LOCK = ".readers.lock"
BOUNDED_SPAN_DAYS = 62    # a range up to this long is looked up day by day, not listed

# Columns that capture writes next to a model's input columns. Input (feature or
# sensitive) columns may not use these names; ``model`` and ``date`` come from the path.
PREDICTION_COLUMNS = ("prediction_id", "version", "ts", "captured_at", "label", "score",
                      "value", "probabilities", "latency_ms", "request_id", "key")
FEEDBACK_COLUMNS = ("prediction_id", "y_true", "y_value", "received_at", "correction", "reason",
                    "key")
QUARANTINE_COLUMNS = ("quarantine_id", "request_id", "received_at", "version", "row_index",
                      "payload", "reasons", "reason", "key", "ts")
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
                  "NULL::TIMESTAMPTZ AS ts, "
                  "NULL::VARCHAR AS model, NULL::DATE AS date WHERE false",
}


def model_key(model: str) -> str:
    """The partition value for a model name: URL-escaped (DuckDB unescapes hive values),
    so any name, even ``<img src=x>`` or one with a slash, is a safe directory name."""
    return quote(model, safe="")


def partition_dir(home: Home, table: str, model: str, date: str) -> Path:
    return lake_fs(home).root / table / f"model={model_key(model)}" / f"date={date}"


def is_encrypted(path: str | Path) -> bool:
    """Whether a lake file has an encrypted footer (ends in ``PARE``)."""
    return fs_of(path).tail(path, 4) == ENCRYPTED_MAGIC


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- Parquet I/O: the one write and the one read --------------------------------------

def write_parquet(table: pa.Table, final: Path, *, home: Home | None = None) -> Path:
    """Write ``table`` to ``final`` atomically and durably (locally a temporary name,
    fsync, rename, directory fsync: :meth:`LakeFS.write_table`). The only function
    that writes lake Parquet for sealing, compaction and rewrites. Given ``home``, the
    file is encrypted as a new segment of its partition's model would be (the model's
    ``privacy`` section, see :mod:`raigov.store.parquet_crypto`)."""
    from raigov.store.parquet_crypto import segment_encryption, write_options

    encrypt = None
    if home is not None:
        lake_table, model = final.parents[1].name, _model_of(final)
        encrypt = segment_encryption(home, lake_table, model)
    fs_of(final).write_table(table, final, write_options(home, encrypt=encrypt,
                                                         columns=table.column_names))
    return final


def _model_of(path: Path) -> str:
    from urllib.parse import unquote

    return unquote(path.parent.parent.name.removeprefix("model="))


def read_parquet_table(paths: list[Path], *, home: Home | None = None) -> pa.Table:
    """The rows of ``paths`` as one Arrow table (columns united by name, no hive
    columns): the only function that reads lake Parquet back for rewriting. Encrypted
    files are decrypted with the data key (``home`` names where a key must not be)."""
    locked = [p for p in paths if is_encrypted(p)]
    plain = [p for p in paths if p not in set(locked)]
    parts = []
    if locked:
        from raigov.store.parquet_crypto import read_options

        options = read_options(home)
        parts += [pq.read_table(p, filesystem=fs_of(p).arrow, **options) for p in locked]
    fs = fs_of(plain[0]) if plain else None
    if fs is not None and not fs.duckdb_reads:
        parts += [pq.read_table(str(p), filesystem=fs.arrow, partitioning=None) for p in plain]
    elif plain:
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            files = "[" + ", ".join(_quote(str(p)) for p in plain) + "]"
            parts.append(con.sql(f"SELECT * FROM read_parquet({files}, union_by_name = true, "
                                 f"hive_partitioning = false)").to_arrow_table())
        finally:
            con.close()
    if not parts:
        return pa.table({})
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")


def count_rows(paths: list[Path], *, con: duckdb.DuckDBPyConnection,
               home: Home | None = None) -> int:
    """The rows of ``paths`` from their footers (no row is read)."""
    if not paths:
        return 0
    fs = fs_of(paths[0])
    if not fs.duckdb_reads:
        return sum(_footer(fs, p, home).num_rows for p in paths)
    return int(sum(r[0] for r in con.execute("SELECT num_rows FROM parquet_file_metadata(?)",
                                             [[str(p) for p in paths]]).fetchall()))


def _footer(fs, path, home: Home | None):
    options = {}
    if is_encrypted(path):
        from raigov.store.parquet_crypto import read_options

        options = read_options(home)
    with fs.arrow.open_input_file(str(path)) as handle:
        return pq.ParquetFile(handle, **options).metadata


# -- manifests and the files readers see ----------------------------------------------

def read_manifest(directory: Path) -> dict:
    try:
        data = json.loads(fs_of(directory).read_bytes(directory / MANIFEST))
    except FileNotFoundError:
        return {"generation": 0, "files": [], "replaced": []}
    return {"generation": int(data.get("generation", 0)), "files": list(data.get("files", [])),
            "replaced": list(data.get("replaced", [])), **{k: v for k, v in data.items()
                                                           if k not in ("generation", "files",
                                                                        "replaced")}}


def partition_files(directory: Path) -> list[Path]:
    """The files of one partition a reader counts: the manifest's published files and
    every segment it does not list as replaced. Call under :func:`reading`."""
    manifest = read_manifest(directory)
    replaced = set(manifest["replaced"])
    files = [directory / name for name in manifest["files"]]
    names = fs_of(directory).names(directory)
    if not names:
        return []
    for name in names:
        if (name.endswith(".parquet") and not name.startswith((".", PUBLISHED_PREFIX))
                and name not in replaced):
            files.append(directory / name)
    return files


def partition_day(directory: Path) -> dt.date | None:
    try:
        return dt.date.fromisoformat(directory.name.removeprefix("date="))
    except ValueError:
        return None


def partitions(home: Home, table: str, model: str | None = None, *,
               since: dt.date | None = None, until: dt.date | None = None) -> list[Path]:
    """Partition directories of a table (one model's when given) whose day lies in
    ``[since, until]``: the date predicate is applied to directory names, so other
    days' files are never opened."""
    fs = lake_fs(home)
    root = fs.root / table
    if model is not None:
        models = fs.existing([root / f"model={model_key(model)}"])
    else:
        models = fs.subdirs(root, "model=")
    out = []
    for model_dir in models:
        if since and until and (until - since).days < BOUNDED_SPAN_DAYS:
            # A bounded read names its days: no listing of a year of partitions.
            days = (since + dt.timedelta(days=i) for i in range((until - since).days + 1))
            out += fs.existing([model_dir / f"date={day.isoformat()}" for day in days])
            continue
        for directory in fs.subdirs(model_dir, "date="):
            day = partition_day(directory)
            if day is None or (since and day < since) or (until and day > until):
                continue
            out.append(directory)
    return out


@contextmanager
def reading(home: Home) -> Iterator[None]:
    """Hold the lake's shared reader lock: superseded files are not deleted meanwhile."""
    lock_dir = lake_fs(home).lock_dir
    path = lock_dir / READERS_LOCK
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:   # a read-only home: nobody can be deleting anything there either
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@contextmanager
def no_readers(home: Home, *, wait: bool = False, patience_s: float = 0.0) -> Iterator[bool]:
    """Try to hold the reader lock exclusively; yields whether it is held. Without
    ``wait``, tries again every 50 ms for ``patience_s``: readers come and go, and a
    single try meets one of them whenever reads overlap most of the time (a busy
    dashboard, labels checked against the lake), so deletions would wait for ever."""
    lock_dir = lake_fs(home).lock_dir
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / READERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + patience_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                held = True
                break
            except BlockingIOError:
                held = False
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        yield held
    finally:
        os.close(fd)


def table_files(home: Home, table: str, model: str | None = None, *,
                since: dt.date | None = None, until: dt.date | None = None) -> list[Path]:
    files: list[Path] = []
    for directory in partitions(home, table, model, since=since, until=until):
        files += partition_files(directory)
    return files


def segment_files(home: Home, table: str, *, model: str | None = None,
                  since: dt.date | None = None, until: dt.date | None = None) -> list[str]:
    """The visible segment files of one lake table (one model's partitions when given,
    only the partitions dated ``since``..``until`` when given). Call under
    :func:`reading` when the files are to be opened."""
    if table not in LAKE_TABLES:
        raise ValueError(f"unknown lake table {table!r}; expected one of {LAKE_TABLES}")
    return [str(p) for p in table_files(home, table, model, since=since, until=until)]


def scan_sql(home: Home, table: str, *, model: str | None = None,
             since: dt.date | None = None, until: dt.date | None = None,
             files: list[str] | None = None, decrypted: str | None = None,
             relations: tuple[str, ...] = ()) -> str:
    """A FROM-clause expression over one lake table (one model's partitions when given,
    only the partitions dated ``since``..``until`` when given).

    ``relations``: names of registered Arrow relations holding plain segments DuckDB
    cannot open itself (objects on S3, scanned as a pyarrow dataset).

    Returns an empty relation of the table's fixed columns when no segment exists yet.
    ``files``: the plain (unencrypted) segments to read, when not every segment is
    plain; ``decrypted``: the name of a registered Arrow relation holding the rows of the
    encrypted ones (see :func:`lake_connection`).
    """
    if table not in LAKE_TABLES:
        raise ValueError(f"unknown lake table {table!r}; expected one of {LAKE_TABLES}")
    if files is None:
        files = segment_files(home, table, model=model, since=since, until=until)
    parts = [f"SELECT * FROM ({_EMPTY[table]})"]
    if files:
        listed = "[" + ", ".join(_quote(f) for f in files) + "]"
        # The empty relation of the fixed columns first: segments written before a
        # column existed (an older raigov) still read, with NULL in it.
        parts.append(f"SELECT * FROM read_parquet({listed}, hive_partitioning = true, "
                     f"union_by_name = true, hive_types = {{'model': 'VARCHAR', "
                     f"'date': 'DATE'}})")
    parts += [f"SELECT * FROM {name}" for name in relations]
    if decrypted:
        parts.append(f"SELECT * FROM {decrypted}")
    if len(parts) == 1:
        return f"({_EMPTY[table]})"
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


def parquet_relation(con: duckdb.DuckDBPyConnection, files: list[str], name: str, *,
                     options: str = "") -> str:
    """A FROM expression over plain (unencrypted) lake files for ``con``: DuckDB's
    ``read_parquet`` (with ``options``, e.g. ``union_by_name = true``)."""
    fs = fs_of(files[0]) if files else None
    if fs is not None and not fs.duckdb_reads:
        con.register(name, fs.dataset(files, hive=False))
        return name
    listed = "[" + ", ".join(_quote(str(f)) for f in files) + "]"
    return f"read_parquet({listed}{', ' + options if options else ''})"


def segment_relation(con: duckdb.DuckDBPyConnection, home: Home, files: list[str],
                     name: str, *, columns: list[str]) -> str:
    """A FROM expression over ``columns`` of lake segments, plain or encrypted: plain
    ones through :func:`parquet_relation`, encrypted ones (a model with a ``privacy``
    section) decrypted with the data key and registered as ``<name>_decrypted``."""
    listed = ", ".join(columns)
    locked = [f for f in files if is_encrypted(f)]
    plain = [f for f in files if f not in set(locked)] if locked else files
    parts = []
    if plain:
        source = parquet_relation(con, plain, f"{name}_plain", options="union_by_name = true")
        parts.append(f"SELECT {listed} FROM {source}")
    if locked:
        con.register(f"{name}_decrypted", read_encrypted(home, locked, columns=columns))
        parts.append(f"SELECT {listed} FROM {name}_decrypted")
    return "(" + " UNION ALL ".join(parts) + ")"


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
        part = pq.read_table(name, columns=columns, filesystem=fs_of(name).arrow, **options)
        path = Path(name)
        model = unquote(path.parent.parent.name.removeprefix("model="))
        day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
        part = part.append_column("model", pa.array([model] * part.num_rows, pa.string()))
        part = part.append_column("date", pa.array([day] * part.num_rows, pa.date32()))
        tables.append(part)
    return pa.concat_tables(tables, promote_options="permissive")


def labelled_sql(home: Home, *, model: str | None = None, since: dt.date | None = None,
                 until: dt.date | None = None, sources: dict[str, str] | None = None) -> str:
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
        f"FROM {_source(home, 'predictions', model, sources, since, until)} p "
        f"LEFT JOIN ("
        f"SELECT prediction_id, "
        f"coalesce(arg_max(v, received_at) FILTER (WHERE c), "
        f"arg_min(v, received_at) FILTER (WHERE NOT c)) AS y_true, "
        f"coalesce(max(received_at) FILTER (WHERE c), "
        f"min(received_at) FILTER (WHERE NOT c)) AS received_at, "
        f"count(*) FILTER (WHERE c) AS corrections "
        f"FROM (SELECT prediction_id, coalesce(y_value, y_true::DOUBLE) AS v, received_at, "
        f"coalesce(correction, false) AS c "
        f"FROM {_source(home, 'feedback', model, sources, _day_before(since), None)}) "
        f"GROUP BY prediction_id) f "
        f"USING (prediction_id))")


def _source(home: Home, table: str, model: str | None, sources: dict[str, str] | None,
            since: dt.date | None, until: dt.date | None) -> str:
    if sources and table in sources:
        return sources[table]
    return scan_sql(home, table, model=model, since=since, until=until)


def _day_before(day: dt.date | None) -> dt.date | None:
    return None if day is None else day - dt.timedelta(days=1)


def table_source(con: duckdb.DuckDBPyConnection, home: Home, table: str, name: str, *,
                 model: str | None, since: dt.date | None, until: dt.date | None) -> str:
    """The FROM expression of one lake table in ``con``: DuckDB scans the plain
    segments (on object storage: through a pyarrow dataset registered as
    ``<name>_plain``); encrypted ones (a model with a ``privacy`` section, which DuckDB
    cannot read with per-column keys) are decrypted through pyarrow with the data key
    and registered as the Arrow relation ``name``. Call under :func:`reading`."""
    files = segment_files(home, table, model=model, since=since, until=until)
    locked = [f for f in files if is_encrypted(f)]
    plain = [f for f in files if f not in set(locked)] if locked else files
    decrypted = None
    if locked:
        con.register(name, read_encrypted(home, locked))
        decrypted = name
    fs = fs_of(plain[0]) if plain else None
    if fs is not None and not fs.duckdb_reads:
        con.register(f"{name}_plain", fs.dataset(plain, hive=True))
        return scan_sql(home, table, model=model, files=[], decrypted=decrypted,
                        relations=(f"{name}_plain",))
    if not locked:
        return scan_sql(home, table, model=model, files=files)
    return scan_sql(home, table, model=model, files=plain, decrypted=decrypted)


@contextmanager
def lake_connection(home: Home, *, model: str | None = None, threads: int | None = None,
                    since: dt.date | None = None,
                    until: dt.date | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with views ``predictions``, ``feedback``,
    ``quarantine`` and ``labelled`` over the lake (one model's partitions when given;
    only the partitions dated ``since``..``until`` when given: ``labelled`` then takes
    feedback from the day before ``since`` on, since a label arrives after its prediction).

    Reading takes only the shared reader lock, so any number of processes read while
    writers seal new segments (a segment appears atomically: it is renamed into place)
    and compaction publishes (a manifest is replaced atomically). Encrypted segments
    are decrypted through pyarrow with the data key and DuckDB scans the Arrow rows
    (registered as ``_decrypted_<table>``)."""
    with reading(home):
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            sources = {}
            for table in LAKE_TABLES:
                sources[table] = table_source(con, home, table, f"_decrypted_{table}",
                                               model=model, since=since, until=until)
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM {sources[table]}")
            labelled_sources = {"predictions": sources["predictions"]}
            labelled_sources["feedback"] = (
                sources["feedback"] if since is None else
                table_source(con, home, "feedback", "_decrypted_labels", model=model,
                              since=_day_before(since), until=None))
            con.execute(f"CREATE VIEW labelled AS SELECT * FROM "
                        f"{labelled_sql(home, model=model, sources=labelled_sources)}")
            yield con
        finally:
            con.close()


def partition_fingerprints(home: Home, table: str, model: str) -> dict[dt.date, str]:
    """Per day, a fingerprint of the partition's visible files (manifest generation,
    names, sizes): it changes whenever rows may have changed. Opens no Parquet file;
    a partition whose directory has settled since its fingerprint was last taken costs
    one ``stat`` (:mod:`raigov.store.partition_stamps`)."""
    import hashlib
    import time

    from raigov.store.partition_stamps import FingerprintCache, NoStamps, settled_stamp

    out = {}
    now = time.time()
    fs = lake_fs(home)
    caches: dict[Path, FingerprintCache] = {}
    with reading(home):
        for directory in partitions(home, table, model):
            if directory.parent not in caches:        # one cache file per model directory
                caches[directory.parent] = (FingerprintCache(directory.parent) if fs.stamped
                                            else NoStamps())
            cache = caches[directory.parent]
            stamp = settled_stamp(directory, now=now) if fs.stamped else None
            fingerprint = cache.get(directory, stamp)
            if fingerprint is None:
                parts = [str(read_manifest(directory)["generation"])]
                for path in partition_files(directory):
                    try:
                        parts.append(f"{path.name}:{fs.size(path)}")
                    except FileNotFoundError:
                        parts.append(f"{path.name}:gone")
                fingerprint = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
                cache.put(directory, stamp, fingerprint)
            out[partition_day(directory)] = fingerprint
    for cache in caches.values():
        cache.save()
    return out
