"""The catalog (``catalog.duckdb``): opened per unit of work, closed right after.

DuckDB takes an exclusive file lock for a read-write connection, and another process
cannot open the file at all while it is held, not even read-only. So nothing keeps the
catalog open: :func:`catalog` opens it, retries a lock conflict with jittered
exponential backoff up to a deadline, yields the connection inside a transaction and
closes it. Serving never touches the catalog on its hot path.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from raigov.errors import CatalogBusyError
from raigov.home import Home
from raigov.store.control_file import restore_control_file

DEFAULT_DEADLINE_S = 30.0
CATALOG_BUSY = (
    "The catalog {path} stayed locked by another process for {waited:.1f} s "
    "(deadline {deadline:.0f} s). Another raigov command is writing to it; try again, "
    "or raise RAIGOV_CATALOG_DEADLINE_S."
)
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")

_initialised: set[Path] = set()
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
            deadline_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the catalog for one unit of work.

    Read-write units run in one transaction that commits on success and rolls back on
    error. Read-only units (``read_only=True``) see the last committed state; they still
    wait for a writer's lock, since DuckDB gives no concurrent readers across processes.
    """
    home.ensure()
    path = home.catalog_path
    deadline = _deadline_from_env() if deadline_s is None else deadline_s
    if path not in _initialised:
        _migrate(path, deadline)
    con = _open(path, read_only=read_only, deadline_s=deadline)
    head_after = None
    try:
        if read_only:
            yield con
            restore_control_file(home, con)
        else:
            head_before = _ledger_head(con)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
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


def _ledger_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    return con.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()


def _migrate(path: Path, deadline: float) -> None:
    """Apply the (idempotent) schema once per process, read-only users included."""
    with _init_lock:
        if path in _initialised:
            return
        con = _open(path, read_only=False, deadline_s=deadline)
        try:
            con.execute(_schema_sql())
        finally:
            con.close()
        from raigov.permissions import private_file

        for name in (path, path.with_name(path.name + ".wal")):   # it holds password hashes
            private_file(name)
        _initialised.add(path)
