"""Ledger verification against an attacker who edits the DuckDB file directly."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from raigov.ledger import verify as lv
from raigov.canonical import canonical_json, iso_utc
from raigov.store.catalog import catalog
from raigov.ledger.checkpoints import (
    checkpoint_path,
    read_checkpoints,
    record_checkpoint_after,
    write_checkpoint,
)
from raigov.errors import VerificationError
from raigov.home import Home
from raigov.ledger.chain import GENESIS_HASH, append_event, event_hash

# Eight events written in five units of work, each followed by a checkpoint.
UNITS = [
    [("model.registered", "alice", "income@1")],
    [("policy.evaluated", "ci", "lending@3"), ("finding.recorded", "ci", "income@1")],
    [("alert.opened", "ci", "a1"), ("alert.acknowledged", "bob", "a1")],
    [("alert.resolved", "bob", "a1")],
    [("model.disabled", "alice", "income@1"), ("model.enabled", "alice", "income@1")],
]
# Event 1 is the public key (test homes are signed: tests/conftest.py), written in the
# first unit of work, before its own event.
KINDS = {seq: kind for seq, kind in enumerate(
    ["ledger.signing_key"] + [k for unit in UNITS for k, _, _ in unit], start=1)}
HEAD = len(KINDS)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Home(tmp_path_factory.mktemp("pristine") / "home").ensure()
    for n, unit in enumerate(UNITS):
        with catalog(home) as con:
            for kind, actor, subject in unit:
                append_event(con, kind, actor=actor, subject=subject,
                             payload={"unit": n, "comment": f"{kind} by {actor}"})
    return home.root


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Home:
    shutil.copytree(pristine, tmp_path / "home")
    return Home(tmp_path / "home")


def tamper(home: Home, *statements: str, params: list | None = None) -> None:
    """What an attacker with write access to catalog.duckdb does."""
    con = duckdb.connect(str(home.catalog_path))
    try:
        for sql in statements:
            con.execute(sql, params if "?" in sql else None)
    finally:
        con.close()


def raw_rows(home: Home) -> list[tuple]:
    con = duckdb.connect(str(home.catalog_path), read_only=True)
    try:
        return con.execute("SELECT seq, recorded_at, kind, actor, subject, payload::VARCHAR, "
                           "prev_hash, hash FROM ledger ORDER BY seq").fetchall()
    finally:
        con.close()


def rebuild_chain(home: Home, *, edit_seq: int, payload: dict) -> None:
    """Edit one event and recompute every hash after it: valid as a chain by itself."""
    rows, prev, rebuilt = raw_rows(home), GENESIS_HASH, []
    for seq, at, kind, actor, subject, body_json, _, _ in rows:
        body_payload = payload if seq == edit_seq else json.loads(body_json)
        body = {"seq": seq, "at": iso_utc(at), "kind": kind, "actor": actor,
                "subject": subject, "payload": body_payload}
        digest = event_hash(prev, body)
        rebuilt.append([seq, iso_utc(at), kind, actor, subject, canonical_json(body_payload),
                        prev, digest])
        prev = digest
    con = duckdb.connect(str(home.catalog_path))
    try:
        con.execute("DELETE FROM ledger")
        con.executemany("INSERT INTO ledger VALUES (?, ?::TIMESTAMPTZ, ?, ?, ?, ?::JSON, ?, ?)",
                        rebuilt)
    finally:
        con.close()


def first_checkpoint_line_at_or_after(home: Home, seq: int) -> int:
    return min(e.line for e in read_checkpoints(home) if e.checkpoint.seq >= seq)


def test_an_untouched_ledger_verifies_with_its_head_and_checkpoints(home: Home) -> None:
    result = lv.audit_verify(home)
    assert result.ok, result.problems
    assert (result.events, result.head_seq) == (HEAD, HEAD)
    assert result.head_hash == raw_rows(home)[-1][7]
    assert result.checkpoints == len(UNITS) and result.last_checkpoint_seq == HEAD
    assert result.warnings == ()
    result.raise_for_problems()
    assert result.describe() == lv.VERIFIED.format(
        events=HEAD, head_seq=HEAD, head_hash=result.head_hash[:12], checkpoints=5, last=HEAD)


def test_an_edited_payload_names_the_event_and_its_kind(home: Home) -> None:
    tamper(home, "UPDATE ledger SET payload = '{\"comment\":\"nothing happened\"}' WHERE seq = 3")
    result = lv.audit_verify(home)
    assert not result.ok
    assert result.first_problem.message == lv.EVENT_EDITED.format(seq=3, kind=KINDS[3])
    assert [p.code for p in result.problems] == ["event_edited"]


def test_an_edited_event_with_a_recomputed_hash_breaks_the_next_link(home: Home) -> None:
    rows = raw_rows(home)
    seq, at, kind, actor, subject, _, prev, _ = rows[3]
    body = {"seq": seq, "at": iso_utc(at), "kind": kind, "actor": "mallory",
            "subject": subject, "payload": {}}
    tamper(home, "UPDATE ledger SET actor = 'mallory', payload = '{}', hash = ? WHERE seq = 4",
           params=[event_hash(prev, body)])
    result = lv.audit_verify(home)
    assert result.first_problem.message == (
        f"event 5 ({KINDS[5]}): prev_hash does not match the hash of event 4")
    assert result.first_problem.seq == 5


def test_a_deleted_event_names_the_gap(home: Home) -> None:
    tamper(home, "DELETE FROM ledger WHERE seq = 4")
    result = lv.audit_verify(home)
    assert result.first_problem.message == lv.MISSING.format(seq=5, kind=KINDS[5], span="4")
    assert result.first_problem.code == "missing"


def test_deleting_the_first_events_is_named(home: Home) -> None:
    tamper(home, "DELETE FROM ledger WHERE seq <= 2")
    result = lv.audit_verify(home)
    assert result.first_problem.message == lv.MISSING.format(seq=3, kind=KINDS[3], span="1..2")


def test_an_inserted_event_is_named_by_the_link_it_breaks(home: Home) -> None:
    rows = raw_rows(home)
    prev = rows[2][7]   # hash of event 3
    at = "2026-01-01T00:00:00.000000+00:00"
    body = {"seq": 4, "at": at, "kind": "waiver.granted", "actor": "mallory",
            "subject": "lending@3", "payload": {}}
    tamper(home, "UPDATE ledger SET seq = seq + 1 WHERE seq >= 4",
           "INSERT INTO ledger VALUES (?, ?::TIMESTAMPTZ, ?, ?, ?, ?::JSON, ?, ?)",
           params=[4, at, "waiver.granted", "mallory", "lending@3", "{}", prev,
                   event_hash(prev, body)])
    result = lv.audit_verify(home)
    assert result.first_problem.message == lv.INSERTED.format(
        seq=5, kind=KINDS[4], other=3, prev=4, span="4")
    assert result.first_problem.code == "inserted"


def test_two_reordered_events_are_named(home: Home) -> None:
    tamper(home, "UPDATE ledger SET seq = -4 WHERE seq = 4",
           "UPDATE ledger SET seq = 4 WHERE seq = 3",
           "UPDATE ledger SET seq = 3 WHERE seq = -4")
    result = lv.audit_verify(home)
    assert result.first_problem.message == lv.REORDERED.format(seq=3, kind=KINDS[4], other=4)
    assert result.first_problem.code == "reordered"


def test_a_truncated_tail_passes_the_chain_but_fails_its_checkpoint(home: Home) -> None:
    tamper(home, "DELETE FROM ledger WHERE seq > 5")
    assert lv.verify_ledger(home, checkpoints=False).ok   # the chain alone looks fine
    result = lv.audit_verify(home)
    line = first_checkpoint_line_at_or_after(home, 6)
    cp = read_checkpoints(home)[line - 1].checkpoint
    assert cp.seq == 6   # written after the unit that appended event 6
    assert result.first_problem.message == lv.CHECKPOINT_TRUNCATED.format(
        line=line, seq=6, at=cp.at, head=5, span="6")
    assert result.first_problem.checkpoint_line == line
    last = read_checkpoints(home)[-1].checkpoint
    assert result.problems[-1].message == lv.CHECKPOINT_TRUNCATED.format(
        line=len(UNITS), seq=HEAD, at=last.at, head=5, span=f"6..{HEAD}")


def test_a_whole_rebuilt_chain_fails_at_the_first_checkpoint_it_contradicts(home: Home) -> None:
    rebuild_chain(home, edit_seq=4, payload={"comment": "rewritten"})
    assert lv.verify_ledger(home, checkpoints=False).ok
    result = lv.audit_verify(home)
    line = first_checkpoint_line_at_or_after(home, 4)
    assert result.first_problem.code == "checkpoint_rewritten"
    assert result.first_problem.checkpoint_line == line
    seq = read_checkpoints(home)[line - 1].checkpoint.seq
    assert result.first_problem.message.startswith(f"checkpoint line {line} (event {seq}, ")
    assert f"the chain up to event {seq} was rewritten" in result.first_problem.message
    assert all(p.checkpoint_line >= line for p in result.problems)


def test_a_forged_checkpoint_line_is_named(home: Home) -> None:
    path = checkpoint_path(home)
    lines = path.read_text().splitlines()
    forged = json.loads(lines[1])
    forged["head_hash"] = "f" * 64
    lines[1] = json.dumps(forged)
    path.write_text("\n".join(lines) + "\n")
    result = lv.audit_verify(home)
    assert [p.message for p in result.problems][:2] == [
        lv.CHECKPOINT_FORGED.format(line=2, seq=forged["seq"]),
        lv.CHECKPOINT_UNCHAINED.format(line=3, seq=json.loads(lines[2])["seq"], before=2)]


def test_a_rebuilt_chain_re_signed_with_a_new_key_fails_against_the_held_key(
        home: Home, signing_public_key: Path) -> None:
    from raigov.ledger.signing import generate_private_key, load_public_key_file

    attacker = generate_private_key()
    rebuild_chain(home, edit_seq=3, payload={})
    checkpoint_path(home).unlink()
    write_checkpoint(home, key=attacker)
    held = load_public_key_file(signing_public_key)
    result = lv.audit_verify(home, public_key=held)
    assert result.first_problem.code == "checkpoint_foreign_key"
    assert result.first_problem.checkpoint_line == 1


def test_a_deleted_checkpoint_file_is_named(home: Home) -> None:
    checkpoint_path(home).unlink()
    result = lv.audit_verify(home)
    assert result.first_problem.message == lv.CHECKPOINTS_DELETED.format(
        path=checkpoint_path(home), events=HEAD)


def test_a_garbled_checkpoint_line_is_named(home: Home) -> None:
    with checkpoint_path(home).open("a") as fh:
        fh.write('{"seq": 3, "head_hash"\n')
    result = lv.audit_verify(home)
    assert result.first_problem.code == "checkpoint_malformed"
    assert result.first_problem.message.startswith(
        f"checkpoint line {len(UNITS) + 1}: not valid JSON")


def test_verification_failure_raises_with_exit_code_one(home: Home) -> None:
    tamper(home, f"DELETE FROM ledger WHERE seq = {HEAD}")
    result = lv.audit_verify(home)
    with pytest.raises(VerificationError) as caught:
        result.raise_for_problems()
    assert caught.value.exit_code == 1
    assert str(caught.value) == lv.VERIFY_FAILED.format(
        first=result.problems[0].message, count=len(result.problems))


def _append_without_checkpoint(home: Home, subject: str) -> None:
    """An event committed by a process that died before it could checkpoint."""
    con = duckdb.connect(str(home.catalog_path))
    try:
        append_event(con, "model.registered", actor="alice", subject=subject)
    finally:
        con.close()


def test_events_after_the_last_checkpoint_are_a_warning_within_the_grace(home: Home) -> None:
    _append_without_checkpoint(home, "credit@1")
    result = lv.audit_verify(home)
    assert result.ok
    assert result.warnings == (lv.WARN_UNCOVERED.format(span=str(HEAD + 1)),)
    late = lv.audit_verify(home, grace_s=0)
    assert late.first_problem.code == "uncovered" and late.first_problem.seq == HEAD + 1
    record_checkpoint_after(home)
    assert lv.audit_verify(home, grace_s=0).warnings == ()


def test_a_ledger_without_checkpoints_fails(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RAIGOV_SIGNING_KEY_FILE")
    home = Home(tmp_path / "home").ensure()
    with catalog(home):
        pass                                  # creates the schema
    _append_without_checkpoint(home, "income@1")
    result = lv.audit_verify(home)
    assert [p.code for p in result.problems] == ["signing_key_missing", "checkpoints_deleted"]
    assert not (home.keys / "checkpoint.key").exists()   # no key is created silently


def test_checkpoint_lines_are_chained_signed_private_and_heads_not_repeated(
        home: Home) -> None:
    from raigov.ledger.checkpoints import line_hash

    path = checkpoint_path(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["prev"] == GENESIS_HASH
    for before, line in zip(lines, lines[1:]):
        assert json.loads(line)["prev"] == line_hash(before)
        assert json.loads(line)["alg"] == "ed25519"
    before = path.read_text()
    assert write_checkpoint(home).seq == HEAD
    assert path.read_text() == before


def test_a_cut_last_line_and_a_removed_middle_line_are_named(home: Home) -> None:
    path = checkpoint_path(home)
    text = path.read_text()
    path.write_text(text[:-20])
    result = lv.audit_verify(home)
    assert result.first_problem.code == "checkpoint_malformed"
    assert "cut short" in result.first_problem.message
    lines = text.splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))
    result = lv.audit_verify(home)
    assert result.first_problem.code == "checkpoint_unchained"
    assert result.first_problem.checkpoint_line == 3


def test_a_rolled_back_unit_writes_no_checkpoint(home: Home) -> None:
    before = checkpoint_path(home).read_text()
    with pytest.raises(RuntimeError), catalog(home) as con:
        append_event(con, "model.registered", actor="alice", subject="credit@1")
        raise RuntimeError("boom")
    with catalog(home) as con:
        con.execute("SELECT 1")   # a unit that appends nothing
    assert checkpoint_path(home).read_text() == before
    assert lv.audit_verify(home).ok
