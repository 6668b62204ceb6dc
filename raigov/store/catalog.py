"""The catalog: small transactional state, opened per unit of work, closed right after.

Where it lives is ``RAIGOV_CATALOG_URL`` (:mod:`raigov.store.catalog_url`): by default
the home's ``catalog.duckdb``, or a PostgreSQL database (:mod:`raigov.store.catalog_pg`)
shared by every host of a fleet. Both hold the same schema (``catalog_schema.sql``).

DuckDB takes an exclusive file lock for a read-write connection, and another process
cannot open the file at all while it is held, not even read-only. So nothing keeps the
catalog open: :func:`catalog` opens it, retries a DuckDB lock conflict with jittered
exponential backoff up to a deadline (only the file needs that), yields the connection
inside a transaction and closes it. Serving never touches the catalog on its hot path.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from raigov.errors import CatalogBusyError, CatalogUnavailableError
from raigov.home import Home
from raigov.store.catalog_url import CatalogTarget, catalog_target
from raigov.store.control_file import restore_control_file

DEFAULT_DEADLINE_S = 30.0
CATALOG_BUSY = (
    "The catalog {path} stayed locked by another process for {waited:.1f} s "
    "(deadline {deadline:.0f} s). Another raigov command is writing to it; try again, "
    "or raise RAIGOV_CATALOG_DEADLINE_S."
)
CATALOG_UNREACHABLE = (
    "The catalog at {url} (RAIGOV_CATALOG_URL) cannot be reached: {error}. Check that "
    "the server runs and the URL's host, port, database and credentials are right."
)
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")

_initialised: set[str] = set()
_init_lock = threading.Lock()


def _schema_sql() -> str:
    return resources.files("raigov.store").joinpath("catalog_schema.sql").read_text()


def _is_lock_error(exc: Exception) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


def _open(path: Path, *, read_only: bool, deadline_s: float) -> duckdb.DuckDBPyConnection:
    started = time.monotonic()
    delay = 0.005
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            waited = time.monotonic() - started
            if not _is_lock_error(exc):
                raise
            if waited >= deadline_s:
                raise CatalogBusyError(CATALOG_BUSY.format(
                    path=path, waited=waited, deadline=deadline_s)) from exc
            time.sleep(min(delay * (0.5 + random.random()), max(deadline_s - waited, 0.001)))
            delay = min(delay * 2, 0.25)


def _deadline_from_env() -> float:
    import os

    return float(os.environ.get("RAIGOV_CATALOG_DEADLINE_S", DEFAULT_DEADLINE_S))


@contextmanager
def catalog(home: Home, *, read_only: bool = False,
            deadline_s: float | None = None) -> Iterator[Any]:
    """Open the catalog for one unit of work.

    Read-write units run in one transaction that commits on success and rolls back on
    error. Read-only units (``read_only=True``) see the last committed state; on the
    DuckDB file they still wait for a writer's lock, since DuckDB gives no concurrent
    readers across processes; on PostgreSQL they never wait.
    """
    home.ensure()
    target = catalog_target(home)
    deadline = _deadline_from_env() if deadline_s is None else deadline_s
    if target.key not in _initialised:
        _migrate(target, deadline)
    con = _connect(target, read_only=read_only, deadline_s=deadline)
    head_after = None
    try:
        if read_only:
            _begin(con, read_only=True)
            yield con
            restore_control_file(home, con)
        else:
            _begin(con, read_only=False)
            head_before = _ledger_head(con)
            try:
                yield con
            except BaseException:
                _rollback(con)
                raise
            _commit(con)
            restore_control_file(home, con)   # a missing kill-switch file comes back
            head_after = _ledger_head(con)
            head_after = None if head_after == head_before else head_after
    finally:
        con.close()
    if head_after is not None:
        # The unit appended ledger events: tell the listeners (the checkpoint writer)
        # once it is committed, never inside the transaction (a rolled-back event would
        # read as tampering). Every unit of work gets this, so no call site can forget it.
        for listener in tuple(_LEDGER_LISTENERS):
            listener(home, head_after)


def _connect(target: CatalogTarget, *, read_only: bool, deadline_s: float) -> Any:
    if target.path is not None:
        return _open(target.path, read_only=read_only, deadline_s=deadline_s)
    from raigov.store.catalog_pg import connect

    try:
        return connect(target.url, read_only=read_only)
    except Exception as exc:   # psycopg.OperationalError and its kin: not reachable
        raise CatalogUnavailableError(CATALOG_UNREACHABLE.format(
            url=target.display, error=str(exc).strip())) from exc


def _begin(con: Any, *, read_only: bool) -> None:
    if isinstance(con, duckdb.DuckDBPyConnection):
        if not read_only:
            con.execute("BEGIN TRANSACTION")
    else:
        con.begin()


def _commit(con: Any) -> None:
    if isinstance(con, duckdb.DuckDBPyConnection):
        con.execute("COMMIT")
    else:
        con.commit()


def _rollback(con: Any) -> None:
    if isinstance(con, duckdb.DuckDBPyConnection):
        con.execute("ROLLBACK")
    else:
        con.rollback()


LedgerListener = Callable[[Home, tuple[int, str]], object]
_LEDGER_LISTENERS: list[LedgerListener] = []


def on_ledger_moved(listener: LedgerListener) -> LedgerListener:
    """Call ``listener(home, (seq, hash))`` after each committed unit that appended
    ledger events. :mod:`raigov.ledger.checkpoints` registers its writer here (the
    ledger sits above the catalog, so the catalog never imports it); the ledger's
    ``append_event`` imports that module, so any process that can append has it."""
    if listener not in _LEDGER_LISTENERS:
        _LEDGER_LISTENERS.append(listener)
    return listener


def _ledger_head(con: Any) -> tuple[int, str] | None:
    return con.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()


def _migrate(target: CatalogTarget, deadline: float) -> None:
    """Apply the (idempotent) schema once per process, read-only users included."""
    with _init_lock:
        if target.key in _initialised:
            return
        if target.path is None:
            con = _connect(target, read_only=False, deadline_s=deadline)
            try:
                con.migrate(_schema_sql())
            finally:
                con.close()
            _initialised.add(target.key)
            return
        path = target.path
        con = _open(path, read_only=False, deadline_s=deadline)
        try:
            con.execute(_schema_sql())
        finally:
            con.close()
        from raigov.permissions import private_file

        for name in (path, path.with_name(path.name + ".wal")):   # it holds password hashes
            private_file(name)
        _initialised.add(target.key)


def insert_rows(con: Any, table: str, columns: Sequence[str], data: Any, *,
                json_columns: Sequence[str] = ()) -> None:
    """Insert a batch (a pandas frame or an Arrow table whose columns are ``columns``,
    in order) into a catalog table in one statement: DuckDB scans the frame in place,
    PostgreSQL takes it by ``COPY``. ``json_columns`` hold JSON text."""
    names = ", ".join(columns)
    if isinstance(con, duckdb.DuckDBPyConnection):
        select = ", ".join(f"{c}::JSON" if c in json_columns else c for c in columns)
        con.register("_raigov_batch", data)
        try:
            con.execute(f"INSERT INTO {table} ({names}) SELECT {select} FROM _raigov_batch")
        finally:
            con.unregister("_raigov_batch")
        return
    con.copy_rows(table, columns, _python_rows(data, columns))


def _python_rows(data: Any, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    import pyarrow as pa

    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    return list(zip(*(table.column(c).to_pylist() for c in columns)))
