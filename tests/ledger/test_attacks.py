"""Attacks on a demo home by someone with write access to it, each caught by the real
``raigov audit verify --public-key`` in a subprocess (exit 1, the first bad item named).
The auditor's public key is the session signing key's (tests/conftest.py), kept outside
every home."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from raigov.canonical import canonical_json, iso_utc
from raigov.home import Home
from raigov.ledger.chain import GENESIS_HASH, event_hash

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def raigov(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def verify(home: Home, key: Path, *extra: str) -> subprocess.CompletedProcess:
    return raigov("audit", "verify", "--home", str(home.root), "--public-key", str(key), *extra)


def first_problem(done: subprocess.CompletedProcess) -> str:
    return next(line for line in done.stderr.strip().splitlines()
                if not line.startswith(("note:", "warning:")))


def test_the_untouched_demo_home_verifies_against_the_held_key(
        seeded_home: Home, signing_public_key: Path) -> None:
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 0, done.stderr
    assert "Ledger verified" in done.stdout
    assert "against the public key you hold" in done.stderr
    printed = raigov("ledger", "public-key", "--home", str(seeded_home.root))
    assert printed.stdout.strip() == signing_public_key.read_text().strip()


def test_deleted_checkpoints_fail(seeded_home: Home, signing_public_key: Path) -> None:
    (seeded_home.root / "ledger.checkpoints").unlink()
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith("checkpoint file ")
    assert "holds no checkpoints" in first_problem(done)


def test_deleted_keys_and_checkpoints_fail_and_no_key_is_created(
        seeded_home: Home, signing_public_key: Path) -> None:
    shutil.rmtree(seeded_home.keys, ignore_errors=True)
    (seeded_home.root / "ledger.checkpoints").unlink()
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1 and "holds no checkpoints" in done.stderr
    assert not (seeded_home.keys / "checkpoint.key").exists()


def test_the_signing_key_event_removed_from_a_rebuilt_chain_fails(
        seeded_home: Home, signing_public_key: Path) -> None:
    rebuild(seeded_home, drop_kind="ledger.signing_key")
    without = raigov("audit", "verify", "--home", str(seeded_home.root))
    assert without.returncode == 1
    assert first_problem(without).startswith("the ledger (")
    assert "records no signing key" in first_problem(without)
    held = verify(seeded_home, signing_public_key)
    assert held.returncode == 1 and "checkpoint line 1 " in first_problem(held)


def test_a_cut_last_checkpoint_line_fails(seeded_home: Home, signing_public_key: Path) -> None:
    path = seeded_home.root / "ledger.checkpoints"
    text = path.read_text()
    count = len(text.splitlines())
    path.write_text(text[:-30])
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith(f"checkpoint line {count}: cut short")
    # The whole last line removed: the head is no longer covered by a signed checkpoint.
    path.write_text("".join(text.splitlines(keepends=True)[:-1]))
    done = verify(seeded_home, signing_public_key, "--grace", "0")
    assert done.returncode == 1
    assert "not covered by a signed checkpoint" in first_problem(done)


def test_a_chain_rebuilt_and_re_signed_with_a_new_key_fails_against_the_held_key(
        seeded_home: Home, signing_public_key: Path, tmp_path: Path) -> None:
    from raigov.ledger.signing import (fingerprint, generate_private_key, public_pem,
                                       write_private_key)

    attacker = generate_private_key()
    attacker_file = tmp_path / "attacker.pem"
    write_private_key(attacker_file, attacker)
    pem = public_pem(attacker.public_key())
    rebuild(seeded_home, replace_key={"algorithm": "ed25519", "public_key": pem,
                                      "fingerprint": fingerprint(attacker.public_key())})
    (seeded_home.root / "ledger.checkpoints").unlink()
    signed = raigov("ledger", "checkpoint", "--home", str(seeded_home.root),
                    env={"RAIGOV_SIGNING_KEY_FILE": str(attacker_file)})
    assert signed.returncode == 0, signed.stderr
    # Against the ledger's own (replaced) key it verifies: that is why auditors hold one.
    assert raigov("audit", "verify", "--home", str(seeded_home.root)).returncode == 0
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith("event 1 (ledger.signing_key) records signing key "
                                          f"{fingerprint(attacker.public_key())}")


def test_a_swapped_weights_file_is_named_and_refused(seeded_home: Home,
                                                      signing_public_key: Path) -> None:
    weights = sorted(p for p in seeded_home.artifacts.rglob("*")
                     if p.is_file() and p.suffix in (".pt2", ".pt", ".safetensors"))
    assert weights, "the demo registers models with weight files"
    target = weights[0]
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    relative = target.relative_to(seeded_home.root)
    version_dir = target
    while version_dir.parent.parent != seeded_home.artifacts:
        version_dir = version_dir.parent
    file_name = target.relative_to(version_dir).as_posix()
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert f"artifact file {file_name} changed since registration" in done.stderr, relative

    from raigov.errors import VerificationError
    from raigov.models.registry import get_model

    model = version_dir.parent.name
    reg = get_model(seeded_home, model_name(seeded_home, model), int(version_dir.name))
    with pytest.raises(VerificationError, match=f"artifact file {file_name} changed"):
        reg.load()


def model_name(home: Home, key: str) -> str:
    con = duckdb.connect(str(home.catalog_path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT DISTINCT name FROM models").fetchall()]
    finally:
        con.close()
    from raigov.store.lake import model_key

    return next(n for n in names if model_key(n) == key)


def rebuild(home: Home, *, drop_kind: str | None = None,
            replace_key: dict | None = None) -> None:
    """Rewrite the ledger with recomputed hashes: valid as a chain by itself."""
    con = duckdb.connect(str(home.catalog_path))
    try:
        rows = con.execute("SELECT seq, recorded_at, kind, actor, subject, payload::VARCHAR "
                           "FROM ledger ORDER BY seq").fetchall()
        prev, out, seq = GENESIS_HASH, [], 0
        for _, at, kind, actor, subject, payload_json in rows:
            if kind == drop_kind:
                continue
            payload = json.loads(payload_json)
            if replace_key is not None and kind == "ledger.signing_key":
                payload = {**payload, **replace_key}
            seq += 1
            body = {"seq": seq, "at": iso_utc(at), "kind": kind, "actor": actor,
                    "subject": subject, "payload": payload}
            digest = event_hash(prev, body)
            out.append([seq, iso_utc(at), kind, actor, subject, canonical_json(payload),
                        prev, digest])
            prev = digest
        con.execute("DELETE FROM ledger")
        con.executemany("INSERT INTO ledger VALUES (?, ?::TIMESTAMPTZ, ?, ?, ?, ?::JSON, ?, ?)",
                        out)
    finally:
        con.close()
