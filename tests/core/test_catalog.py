"""The catalog context manager: transactions, and waiting out another process's lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from raigov.store.catalog import catalog
from raigov.errors import CatalogBusyError
from raigov.home import Home
from raigov.ledger.chain import append_event, read_events


def _hold_lock(home: Home, seconds: float) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(home.catalog_path)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        con.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_unit_of_work_commits_its_rows_and_its_ledger_event_together(home: Home) -> None:
    with catalog(home) as con:
        append_event(con, "test.event", actor="alice", subject="s", payload={"n": 1})
    with catalog(home, read_only=True) as con:
        events = read_events(con)
    # Event 1 is the signing key a signed home's new ledger opens with (tests/conftest.py).
    assert [(e.kind, e.actor) for e in events][:1] == [("ledger.signing_key", "alice")]
    assert [(e.kind, e.actor, e.payload) for e in events][1:] == [("test.event", "alice", {"n": 1})]


def test_an_error_inside_a_unit_of_work_rolls_everything_back(home: Home) -> None:
    with pytest.raises(RuntimeError):
        with catalog(home) as con:
            append_event(con, "test.event", actor="alice", subject="s")
            raise RuntimeError("boom")
    with catalog(home, read_only=True) as con:
        assert read_events(con) == []


def test_a_lock_held_by_another_process_is_waited_out(home: Home) -> None:
    with catalog(home):
        pass
    holder = _hold_lock(home, 1.5)
    started = time.monotonic()
    with catalog(home, deadline_s=30) as con:
        append_event(con, "after.lock", actor="bob", subject="s")
    waited = time.monotonic() - started
    holder.wait()
    assert waited >= 0.5, "the lock was held, so the unit of work must have waited"
    with catalog(home, read_only=True) as con:
        assert [e.kind for e in read_events(con)] == ["ledger.signing_key", "after.lock"]


def test_a_lock_held_past_the_deadline_fails_with_a_clear_message(home: Home) -> None:
    with catalog(home):
        pass
    holder = _hold_lock(home, 5)
    try:
        with pytest.raises(CatalogBusyError) as err:
            with catalog(home, deadline_s=0.5):
                pass
        assert str(home.catalog_path) in str(err.value)
        assert "stayed locked by another process" in str(err.value)
    finally:
        holder.kill()
        holder.wait()


def test_duckdb_really_refuses_a_second_process_while_the_file_is_open(home: Home) -> None:
    """The measured fact the storage design answers: not even read-only opens work."""
    with catalog(home):
        pass
    holder = _hold_lock(home, 3)
    try:
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(home.catalog_path), read_only=True)
    finally:
        holder.kill()
        holder.wait()
