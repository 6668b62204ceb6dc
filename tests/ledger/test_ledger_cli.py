"""`raigov ledger` and `audit verify --mirror` through the real CLI, on a home that
starts unsigned (an older home): init-signing, public-key, checkpoint, the mirror."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from raigov.home import Home
from raigov.ledger.chain import append_event
from raigov.store.catalog import catalog

ROOT = Path(__file__).parents[2]


def raigov(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ("RAIGOV_SIGNING_KEY_FILE", "RAIGOV_CHECKPOINT_MIRROR")}
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**base, **(env or {})}, timeout=120)


@pytest.fixture
def unsigned_home(tmp_path: Path, monkeypatch) -> Home:
    monkeypatch.delenv("RAIGOV_SIGNING_KEY_FILE")
    home = Home.resolve(tmp_path / "home").ensure()
    with catalog(home) as con:
        append_event(con, "model.registered", actor="alice", subject="m@1")
    return home


def test_an_unsigned_home_fails_until_init_signing_then_verifies(
        unsigned_home: Home, tmp_path: Path) -> None:
    h = str(unsigned_home.root)
    before = raigov("audit", "verify", "--home", h)
    assert before.returncode == 1 and "records no signing key" in before.stderr
    inside = raigov("ledger", "init-signing", "--home", h, "--private-key",
                    str(unsigned_home.root / "keys" / "ledger.pem"))
    assert inside.returncode == 2 and "inside the home" in inside.stderr
    assert not (unsigned_home.root / "keys" / "ledger.pem").exists()
    key = tmp_path / "outside" / "ledger.pem"
    done = raigov("ledger", "init-signing", "--home", h, "--private-key", str(key))
    assert done.returncode == 0, done.stderr
    assert "No ledger checkpoint written" not in done.stderr   # its own event is signed
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = raigov("ledger", "init-signing", "--home", h, "--private-key",
                   str(tmp_path / "second.pem"))
    assert again.returncode == 2 and "already records signing key" in again.stderr
    public = tmp_path / "auditor.pem"
    printed = raigov("ledger", "public-key", "--home", h)
    assert printed.returncode == 0 and printed.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    public.write_text(printed.stdout)
    ok = raigov("audit", "verify", "--home", h, "--public-key", str(public))
    assert ok.returncode == 0, ok.stderr
    assert "Ledger verified: 2 event(s)" in ok.stdout
    no_key = raigov("ledger", "checkpoint", "--home", h)
    assert no_key.returncode == 2 and "RAIGOV_SIGNING_KEY_FILE" in no_key.stderr


def test_the_mirror_holds_every_line_and_a_cut_home_file_is_named(
        unsigned_home: Home, tmp_path: Path) -> None:
    h = str(unsigned_home.root)
    key, mirror = tmp_path / "k" / "ledger.pem", tmp_path / "mirror"
    env = {"RAIGOV_SIGNING_KEY_FILE": str(key), "RAIGOV_CHECKPOINT_MIRROR": str(mirror)}
    assert raigov("ledger", "init-signing", "--home", h, "--private-key", str(key),
                  env=env).returncode == 0
    for user in ("ann", "bob"):
        added = raigov("users", "add", user, "--role", "viewer", "--no-password",
                       "--home", h, env=env)
        assert added.returncode == 0, added.stderr
    home_file = unsigned_home.root / "ledger.checkpoints"
    mirrored = mirror / "ledger.checkpoints"
    assert mirrored.read_text().splitlines() == home_file.read_text().splitlines()[-3:]
    # An older home: its first lines predate the mirror. Start the mirror as a copy.
    mirrored.write_text(home_file.read_text())
    assert raigov("audit", "verify", "--home", h, "--mirror", str(mirror)).returncode == 0
    lines = home_file.read_text().splitlines(keepends=True)
    home_file.write_text("".join(lines[:-1]))
    done = raigov("audit", "verify", "--home", h, "--mirror", str(mirror))
    assert done.returncode == 1
    assert (f"checkpoint line {len(lines)} (event " in done.stderr
            and "is in the mirror" in done.stderr)


def test_a_signing_key_inside_the_home_is_refused_where_it_would_sign(
        unsigned_home: Home, tmp_path: Path) -> None:
    """RAIGOV_SIGNING_KEY_FILE naming a file inside the home it signs for (copied there
    by hand): checkpoint and serve refuse it, naming the variable; nothing is signed."""
    h = str(unsigned_home.root)
    key = tmp_path / "outside" / "ledger.pem"
    assert raigov("ledger", "init-signing", "--home", h, "--private-key",
                  str(key)).returncode == 0
    moved = unsigned_home.root / "keys" / "copied.pem"
    moved.parent.mkdir(exist_ok=True)
    moved.write_bytes(key.read_bytes())
    lines = (unsigned_home.root / "ledger.checkpoints").read_text().splitlines()
    env = {"RAIGOV_SIGNING_KEY_FILE": str(moved)}
    for args in (("ledger", "checkpoint"), ("serve", "--no-auth", "--port", "0")):
        done = raigov(*args, "--home", h, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert "inside the home" in done.stderr and "RAIGOV_SIGNING_KEY_FILE" in done.stderr
    assert (unsigned_home.root / "ledger.checkpoints").read_text().splitlines() == lines
