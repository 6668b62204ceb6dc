"""The demo's ledger signing key: a new user's demo (no ``RAIGOV_SIGNING_KEY_FILE``)
signs every checkpoint with a key it makes beside the home, so ``raigov audit verify``
passes on the demo home. The session fixture sets a key for every other test, so these
tests take it away."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from raigov.cli.demo.signing_key import demo_signing_key_path, ensure_demo_signing_key
from raigov.home import Home
from raigov.ledger.chain import SIGNING_KEY_EVENT, append_event, read_events
from raigov.ledger.signing import (SIGNING_KEY_ENV, fingerprint, generate_private_key,
                                   is_inside, load_private_key, public_pem,
                                   write_private_key)
from raigov.ledger.verify import NOTE_HELD_KEY
from raigov.store.catalog import catalog
from raigov.store.parquet_crypto import DATA_KEY_ENV, DATA_KEY_FILE_ENV

END = "2026-03-08"
# The shortest demo the e2e tests run (test_demo_e2e.py: smoke, 3 days, 300 rows a day).
SHORT_DEMO = ("demo", "--scenario", "smoke", "--days", "3", "--rows-per-day", "300",
              "--end-date", END, "--no-dashboard")
VERIFIED = re.compile(r"^Ledger verified: (\d+) event\(s\), head event \1 \(\w+\), "
                      r"(\d+) checkpoint\(s\), the last covering event \1$")


def _raigov(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(1800)   # about 1 minute on an idle 2-core machine; more when shared
def test_a_demo_without_a_signing_key_makes_one_beside_the_home_and_its_ledger_verifies(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    bare = {k: v for k, v in os.environ.items()
            if k not in (SIGNING_KEY_ENV, DATA_KEY_FILE_ENV, DATA_KEY_ENV)}
    demo = _raigov(*SHORT_DEMO, "--home", str(home), env=bare, timeout=1500)
    assert demo.returncode == 0, demo.stderr[-3000:]
    printed = demo.stdout + demo.stderr
    assert "No ledger checkpoint written" not in printed

    key = tmp_path / "home.signing-key"
    assert demo_signing_key_path(Home.resolve(home)) == key
    assert key.is_file() and not is_inside(key, home)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "Signing key:" in printed and f"{SIGNING_KEY_ENV}={key}" in printed

    # An auditor holding the key's public half: every checkpoint must be signed by it.
    private = load_private_key(key)
    public = tmp_path / "auditor.pem"
    public.write_text(public_pem(private.public_key()))
    user = {**bare, SIGNING_KEY_ENV: str(key), DATA_KEY_FILE_ENV: str(tmp_path / "home.data-key")}
    verify = _raigov("audit", "verify", "--home", str(home), "--public-key", str(public),
                     env=user, timeout=300)
    assert verify.returncode == 0, verify.stderr
    verified = VERIFIED.match(verify.stdout.strip())
    assert verified, verify.stdout
    assert int(verified[1]) > 1 and int(verified[2]) >= 1
    assert NOTE_HELD_KEY.format(fp=fingerprint(private.public_key())) in verify.stderr


def test_a_key_file_already_beside_the_home_is_kept_and_named_for_the_demos_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV)
    home = Home.resolve(tmp_path / "home").ensure()
    key = demo_signing_key_path(home)
    existing = generate_private_key()
    write_private_key(key, existing)
    before = key.read_bytes()

    assert ensure_demo_signing_key(home) == key
    assert os.environ[SIGNING_KEY_ENV] == str(key)     # children inherit os.environ
    assert key.read_bytes() == before
    with catalog(home) as con:                          # the demo's first event
        append_event(con, "model.registered", actor="demo", subject="m@1")
    with catalog(home, read_only=True) as con:
        recorded = read_events(con, kind=SIGNING_KEY_EVENT)
    assert [e.payload["fingerprint"] for e in recorded] == [fingerprint(existing.public_key())]


def test_a_signing_key_already_named_is_used_and_no_file_is_made_beside_the_home(
        tmp_path: Path, signing_key_file: Path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    assert ensure_demo_signing_key(home) == signing_key_file
    assert os.environ[SIGNING_KEY_ENV] == str(signing_key_file)
    assert not demo_signing_key_path(home).exists()


def test_without_a_key_the_demo_makes_one_as_init_signing_does_and_signs_its_first_event(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    from raigov.ledger.checkpoints import read_checkpoints

    monkeypatch.delenv(SIGNING_KEY_ENV)
    home = Home.resolve(tmp_path / "home").ensure()
    with caplog.at_level("WARNING"):
        key = ensure_demo_signing_key(home)
    assert key == tmp_path / "home.signing-key" and os.environ[SIGNING_KEY_ENV] == str(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made = fingerprint(load_private_key(key).public_key())
    with catalog(home, read_only=True) as con:
        events = read_events(con)
    assert [(e.seq, e.kind, e.actor, e.payload["fingerprint"]) for e in events] == [
        (1, SIGNING_KEY_EVENT, "demo", made)]
    assert [(c.checkpoint.seq, c.checkpoint.key) for c in read_checkpoints(home)] == [(1, made)]
    assert "No ledger checkpoint written" not in caplog.text
