"""``raigov keys`` as a user runs it: the token printed once and stored nowhere, list
without tokens or hashes, revoke, did-you-mean for scopes and models, and a ledger
event per change that holds no secret."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from raigov.home import Home
from raigov.keys import UNKNOWN_MODEL, UNKNOWN_SCOPE, parse_token
from raigov.ledger.chain import read_events
from raigov.store.catalog import catalog
from tests.serving.conftest import MODEL


def _cli(home: Home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, timeout=120)


def _every_file_bytes(home: Home) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.root.rglob("*")) if p.is_file())


@pytest.fixture
def created(model_home: Home) -> dict:
    done = _cli(model_home, "keys", "create", "scorer", "--scope", "predict", "--scope", "feedback",
                "--model", MODEL, "--rate", "5/s", "--expires", "2099-01-31", "--actor", "ann")
    assert done.returncode == 0, done.stderr
    return {"home": model_home, "stdout": done.stdout, "token": done.stdout.splitlines()[-1]}


def test_keys_create_prints_the_token_once_as_its_last_line(created) -> None:
    token, out = created["token"], created["stdout"]
    key_id, secret = parse_token(token)
    assert out.count(token) == 1 and out.count(secret) == 1
    assert len(secret) >= 43                   # token_urlsafe(32): 256 random bits
    assert "scopes predict, feedback" in out and f"models {MODEL}" in out and "rate 5/s" in out
    assert "expires 2099-01-31T00:00:00+00:00" in out


def test_keys_list_never_shows_the_token_or_its_hash(created) -> None:
    import hashlib

    home, token = created["home"], created["token"]
    secret = parse_token(token)[1]
    digest = hashlib.sha256(secret.encode()).hexdigest()
    table = _cli(home, "keys", "list")
    as_json = _cli(home, "keys", "list", "--format", "json")
    assert table.returncode == as_json.returncode == 0
    for text in (table.stdout, as_json.stdout):
        assert secret not in text and digest not in text and digest[:16] not in text
    [entry] = json.loads(as_json.stdout)["keys"]
    assert (entry["name"], entry["scopes"], entry["models"], entry["rate_per_s"], entry["status"],
            entry["created_by"]) == ("scorer", ["predict", "feedback"], [MODEL], 5.0, "active", "ann")
    assert "secret_sha256" not in entry
    assert "scorer" in table.stdout and "active" in table.stdout


def test_the_ledger_records_created_and_revoked_keys_and_no_file_holds_the_secret(created) -> None:
    home, token = created["home"], created["token"]
    revoked = _cli(home, "keys", "revoke", "scorer", "--actor", "bob")
    assert revoked.returncode == 0, revoked.stderr
    with catalog(home, read_only=True) as con:
        events = [e for e in read_events(con) if e.kind.startswith("keys.")]
    assert [(e.kind, e.actor, e.subject) for e in events] == [
        ("keys.created", "ann", "key:scorer"), ("keys.revoked", "bob", "key:scorer")]
    assert events[0].payload["scopes"] == ["predict", "feedback"]
    secret = parse_token(token)[1]
    ledger_text = json.dumps([e.body() for e in events])
    assert secret not in ledger_text and "secret_sha256" not in ledger_text
    everything = _every_file_bytes(home)      # catalog, snapshot, checkpoints, spool ...
    assert token.encode() not in everything and secret.encode() not in everything
    listed = json.loads(_cli(home, "keys", "list", "--format", "json").stdout)["keys"]
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_at"] is not None


def test_an_unknown_scope_or_model_exits_2_with_a_close_match(model_home: Home) -> None:
    scope = _cli(model_home, "keys", "create", "k1", "--scope", "predcit")
    model = _cli(model_home, "keys", "create", "k2", "--scope", "predict", "--model", "credit-risc")
    assert scope.returncode == model.returncode == 2
    assert UNKNOWN_SCOPE.format(scope="predcit", name="k1",
                                allowed="predict, feedback, log, backfill, metrics, admin",
                                hint=" Did you mean 'predict'?") in scope.stderr
    assert UNKNOWN_MODEL.format(name="k2", model="credit-risc", registered=MODEL,
                                hint=f" Did you mean '{MODEL}'?") in model.stderr
    assert scope.stdout == model.stdout == ""
    assert json.loads(_cli(model_home, "keys", "list", "--format", "json").stdout)["keys"] == []


def test_a_name_in_use_a_past_expiry_and_a_bad_rate_exit_2(created) -> None:
    home = created["home"]
    again = _cli(home, "keys", "create", "scorer", "--scope", "predict")
    past = _cli(home, "keys", "create", "late", "--scope", "predict", "--expires", "2001-01-01")
    rate = _cli(home, "keys", "create", "quick", "--scope", "predict", "--rate", "lots")
    assert (again.returncode, past.returncode, rate.returncode) == (2, 2, 2)
    assert "already exists" in again.stderr and "is not in the future" in past.stderr
    assert "is not a rate" in rate.stderr
    revoke = _cli(home, "keys", "revoke", "scorr")
    assert revoke.returncode == 2 and "Did you mean 'scorer'?" in revoke.stderr
