"""The catalog on PostgreSQL: a connection that speaks the catalog's SQL.

The store layer's SQL is written once, in the dialect both engines share (ANSI SQL with
``?`` placeholders, ``ON CONFLICT`` upserts, ``CAST(? AS VARCHAR[])`` for list
parameters, ``::JSON`` casts). :class:`PgCatalog` gives psycopg the call shape the
catalog's users already have from DuckDB (``execute`` returning something to fetch
from, ``executemany``, ``fetchone``, ``fetchall``, ``df``, ``description``) and the
values DuckDB would return (JSON as text, whole sums as ``int``, times in UTC).

Parameters are bound on the client (psycopg's ``ClientCursor``): a ``None`` or a list
then carries its literal type, as DuckDB infers it, where server-side binding would
ask for a cast on every nullable parameter.

Concurrency: a read-write unit of work takes one transaction-scoped advisory lock
(:data:`WRITER_LOCK`) before its first statement, so writers on every host run one at
a time, exactly as the DuckDB file lock makes them (the ledger's hash chain stays one
chain; "at most one open alert per rule and segment" holds), while readers never wait:
a read-only unit is a ``REPEATABLE READ READ ONLY`` transaction on the last committed
state. PostgreSQL's own locks take the place of the DuckDB file's retry loop.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

# One 64-bit key for the writers' advisory lock, and one for schema migration
# (the two never nest: migration runs before any unit of work of the process).
WRITER_LOCK = 0x7261_6967_6F76_0001       # "raigov" + 1
MIGRATION_LOCK = 0x7261_6967_6F76_0002

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%")


def to_pyformat(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s``, leaving a ``?`` inside quoted strings,
    quoted names and comments as it is; every literal ``%`` becomes ``%%`` (psycopg
    reads ``%`` everywhere, quotes included)."""
    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        return "%s" if token == "?" else token.replace("%", "%%")
    return _TOKEN.sub(swap, sql)


def _register_loaders(conn: Any) -> None:
    from psycopg.adapt import Loader
    from psycopg.types.string import TextLoader

    class NumericLoader(Loader):
        """``numeric`` (what PostgreSQL's ``sum`` of integers gives) as DuckDB gives
        it: an ``int`` when whole, else a ``float``."""

        def load(self, data: Any) -> int | float:
            value = Decimal(bytes(data).decode())
            return int(value) if value == value.to_integral_value() else float(value)

    for name in ("json", "jsonb"):            # JSON columns come back as text, as in DuckDB
        conn.adapters.register_loader(name, TextLoader)
    conn.adapters.register_loader("numeric", NumericLoader)


def connect(conninfo: str, *, read_only: bool, application_name: str = "raigov") -> "PgCatalog":
    import psycopg

    conn = psycopg.connect(conninfo, autocommit=False, cursor_factory=psycopg.ClientCursor,
                           application_name=application_name, options="-c TimeZone=UTC")
    _register_loaders(conn)
    return PgCatalog(conn, read_only=read_only)


class PgCatalog:
    """One PostgreSQL connection inside one unit of work (see the module docstring)."""

    engine = "postgresql"

    def __init__(self, conn: Any, *, read_only: bool) -> None:
        self._conn = conn
        self._cur = conn.cursor()
        self.read_only = read_only

    # ---- the unit's transaction ----
    def begin(self) -> None:
        if self.read_only:
            self._cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        else:
            self._cur.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK])

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()

    def migrate(self, schema_sql: str) -> None:
        """Apply the idempotent schema under the migration lock (two processes that
        create the same table at once would otherwise collide in PostgreSQL's own
        catalog)."""
        self._conn.autocommit = True
        try:
            self._cur.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
            try:
                self._cur.execute(_pg_schema(schema_sql))
            finally:
                self._cur.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
        finally:
            self._conn.autocommit = False

    # ---- DuckDB's call shape ----
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> "PgCatalog":
        self._cur.execute(to_pyformat(sql), _params(params))
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> "PgCatalog":
        rows = [_params(r) for r in rows]
        if rows:
            self._cur.executemany(to_pyformat(sql), rows)
        return self

    def copy_rows(self, table: str, columns: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> None:
        """``COPY table (columns) FROM STDIN``: a batch in one round trip."""
        with self._cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_params(row))

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cur.fetchall()

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        return self._cur.description

    def df(self):
        """The result as a pandas frame with DuckDB's column types (times as
        ``datetime64[us, UTC]``, integers that may be NULL as ``Int64``), empty or not."""
        import pandas as pd

        columns = [c.name for c in self._cur.description or []]
        types = [c.type_code for c in self._cur.description or []]
        frame = pd.DataFrame(self._cur.fetchall(), columns=columns)
        for name, oid in zip(columns, types):
            kind = _OID_KIND.get(oid)
            if kind == "timestamptz":
                frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
            elif kind == "float":
                frame[name] = frame[name].astype("float64")
            elif kind == "int":
                series = frame[name]
                frame[name] = series.astype("Int64" if series.isna().any() or series.empty
                                            else "int64")
            elif kind == "bool" and not frame[name].isna().any():
                frame[name] = frame[name].astype(bool)
        return frame

    fetchdf = df


# PostgreSQL type oids (pg_type) of the columns the catalog holds.
_OID_KIND = {1184: "timestamptz", 701: "float", 700: "float", 1700: "float",
             20: "int", 23: "int", 21: "int", 16: "bool"}


def _params(params: Sequence[Any] | None) -> list[Any] | None:
    if params is None:
        return None
    return [_value(p) for p in params]


def _value(p: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(p, pd.Timestamp):
        return p.to_pydatetime()
    if isinstance(p, np.generic):
        return p.item()
    if isinstance(p, dt.datetime) and p.tzinfo is None:
        return p.replace(tzinfo=dt.timezone.utc)   # DuckDB reads naive times as UTC here
    if isinstance(p, tuple):
        return list(p)
    return p


def _pg_schema(sql: str) -> str:
    """The shared schema file in PostgreSQL's words: DuckDB's ``DOUBLE`` is
    ``DOUBLE PRECISION`` there (DuckDB reads both; the file keeps the short name)."""
    return re.sub(r"\bDOUBLE\b(?!\s+PRECISION)", "DOUBLE PRECISION", sql)
