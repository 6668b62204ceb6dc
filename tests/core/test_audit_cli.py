"""``raigov audit verify`` as an auditor runs it: exit 0 on an untouched ledger, exit 1
naming the event or checkpoint after tampering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.ledger.chain import append_event

ROOT = Path(__file__).parents[2]


def _verify(home: Home) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", "audit", "verify", "--home",
                           str(home.root)], capture_output=True, text=True, cwd=ROOT)


def _seed(home: Home, n: int = 5) -> None:
    for i in range(n):
        with catalog(home) as con:
            append_event(con, "model.registered", actor="alice", subject=f"m@{i}", payload={"i": i})


def test_an_untouched_ledger_verifies_with_exit_code_0(home: Home) -> None:
    _seed(home)
    done = _verify(home)
    assert done.returncode == 0, done.stderr
    assert "Ledger verified: 6 event(s)" in done.stdout


def test_an_edited_event_fails_with_exit_code_1_naming_it(home: Home) -> None:
    _seed(home)
    con = duckdb.connect(str(home.catalog_path))
    con.execute("""UPDATE ledger SET payload = '{"i": 99}' WHERE seq = 4""")
    con.close()
    done = _verify(home)
    assert done.returncode == 1
    assert "event 4 (model.registered)" in done.stderr


def test_a_truncated_tail_fails_naming_the_checkpoint(home: Home) -> None:
    _seed(home)
    con = duckdb.connect(str(home.catalog_path))
    con.execute("DELETE FROM ledger WHERE seq >= 4")
    con.close()
    done = _verify(home)
    assert done.returncode == 1 and "checkpoint" in done.stderr
