"""`raigov ledger rotate-key` through the real CLI: the old and the new key both sign the
link, an auditor holding either public key verifies the whole ledger, a process still
signing with the rotated-out key is caught, and a key added without the link (an
attacker with write access to the home and a key of their own) is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from raigov.home import Home
from raigov.ledger.chain import append_event, record_signing_key
from raigov.ledger.rotation import rotation_payload
from raigov.ledger.signing import (fingerprint, generate_private_key, load_private_key,
                                   write_private_key)
from raigov.store.catalog import catalog

ROOT = Path(__file__).parents[2]


def raigov(*args: str, key: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAIGOV_SIGNING_KEY_FILE", "RAIGOV_CHECKPOINT_MIRROR")}
    if key is not None:
        env["RAIGOV_SIGNING_KEY_FILE"] = str(key)
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def _add_user(home: Home, name: str, key: Path) -> None:
    done = raigov("users", "add", name, "--role", "viewer", "--no-password",
                  "--home", str(home.root), key=key)
    assert done.returncode == 0, done.stderr


def _public(home: Home, path: Path) -> Path:
    printed = raigov("ledger", "public-key", "--home", str(home.root))
    assert printed.returncode == 0, printed.stderr
    path.write_text(printed.stdout)
    return path


@pytest.fixture
def rotated(tmp_path: Path, monkeypatch) -> tuple[Home, Path, Path, Path, Path]:
    """A home signed with key 1, rotated to key 2, with events on both sides; the
    public keys as an auditor saved them before and after."""
    monkeypatch.delenv("RAIGOV_SIGNING_KEY_FILE", raising=False)
    home = Home.resolve(tmp_path / "home").ensure()
    with catalog(home) as con:
        append_event(con, "model.registered", actor="alice", subject="m@1")
    old, new = tmp_path / "keys" / "old.pem", tmp_path / "keys" / "new.pem"
    assert raigov("ledger", "init-signing", "--home", str(home.root),
                  "--private-key", str(old)).returncode == 0
    _add_user(home, "ann", old)
    old_public = _public(home, tmp_path / "auditor-old.pem")
    done = raigov("ledger", "rotate-key", "--home", str(home.root),
                  "--new-private-key", str(new), key=old)
    assert done.returncode == 0, done.stderr
    assert f"RAIGOV_SIGNING_KEY_FILE={new}" in done.stdout
    _add_user(home, "bob", new)
    new_public = _public(home, tmp_path / "auditor-new.pem")
    return home, old, new, old_public, new_public


def test_either_public_key_verifies_the_whole_ledger_after_a_rotation(rotated) -> None:
    home, old, new, old_public, new_public = rotated
    assert old_public.read_text() != new_public.read_text()
    fp_old = fingerprint(load_private_key(old).public_key())
    fp_new = fingerprint(load_private_key(new).public_key())
    lines = (home.root / "ledger.checkpoints").read_text()
    assert fp_old in lines and fp_new in lines         # both keys signed checkpoints
    for public in (old_public, new_public, None):
        args = ["--public-key", str(public)] if public else []
        verified = raigov("audit", "verify", "--home", str(home.root), *args)
        assert verified.returncode == 0, (public, verified.stdout, verified.stderr)
        assert "Ledger verified: 5 event(s)" in verified.stdout


def test_a_checkpoint_signed_with_the_rotated_out_key_fails(rotated) -> None:
    home, old, _new, _old_public, new_public = rotated
    _add_user(home, "carl", old)          # a server nobody restarted
    failed = raigov("audit", "verify", "--home", str(home.root), "--public-key",
                    str(new_public))
    assert failed.returncode == 1
    assert "was rotated out at event" in failed.stderr + failed.stdout


def test_rotating_needs_the_current_key(rotated, tmp_path: Path) -> None:
    home, old, new, *_ = rotated
    again = raigov("ledger", "rotate-key", "--home", str(home.root), "--new-private-key",
                   str(tmp_path / "keys" / "third.pem"), key=old)
    assert again.returncode == 2
    assert "a rotation must be signed by the current key" in again.stderr
    assert not (tmp_path / "keys" / "third.pem").exists()
    inside = raigov("ledger", "rotate-key", "--home", str(home.root), "--new-private-key",
                    str(home.root / "keys" / "x.pem"), key=new)
    assert inside.returncode == 2 and "inside the home" in inside.stderr


def test_a_key_added_without_the_old_keys_endorsement_is_refused(
        rotated, tmp_path: Path, monkeypatch) -> None:
    home, _old, new, old_public, _new_public = rotated
    # The attacker has write access to the home and a key of their own; they can copy
    # the link's shape, but only sign it with keys they hold.
    mine = generate_private_key()
    mine_file = tmp_path / "attacker.pem"
    write_private_key(mine_file, mine)
    forged = rotation_payload(mine, mine)
    forged["previous_fingerprint"] = fingerprint(load_private_key(new).public_key())
    monkeypatch.setenv("RAIGOV_SIGNING_KEY_FILE", str(mine_file))
    with catalog(home) as con:
        record_signing_key(con, mine.public_key(), actor="cli", extra=forged)
    _add_user(home, "mallory", mine_file)
    for public in (old_public, None):
        args = ["--public-key", str(public)] if public else []
        failed = raigov("audit", "verify", "--home", str(home.root), *args)
        assert failed.returncode == 1, public
        out = failed.stderr + failed.stdout
        assert "without a valid link to the key before it" in out
        assert "endorsement does not verify" in out
