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
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF                       # one byte of the weights swapped
    target.write_bytes(bytes(data))
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


def edit_catalog(home: Home, sql: str, params: list | None = None) -> None:
    con = duckdb.connect(str(home.catalog_path))
    try:
        con.execute(sql, params)
    finally:
        con.close()


def test_an_edited_alert_is_named(seeded_home: Home, signing_public_key: Path) -> None:
    con = duckdb.connect(str(seeded_home.catalog_path), read_only=True)
    alert_id, = con.execute("SELECT alert_id FROM alerts ORDER BY alert_id LIMIT 1").fetchone()
    con.close()
    edit_catalog(seeded_home, "UPDATE alerts SET severity = 'info', status = 'resolved' "
                              "WHERE alert_id = ?", [alert_id])
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith(f"alert {alert_id}: ")
    assert "the alerts table was edited" in first_problem(done)


def test_an_edited_user_role_is_named(seeded_home: Home, signing_public_key: Path) -> None:
    added = raigov("users", "add", "mallory", "--role", "viewer", "--no-password", "--home",
                   str(seeded_home.root))
    assert added.returncode == 0, added.stderr
    assert verify(seeded_home, signing_public_key).returncode == 0
    edit_catalog(seeded_home, "UPDATE users SET role = 'admin' WHERE name = 'mallory'")
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith("user mallory: role admin in the catalog, the "
                                          "ledger's last user event says viewer")


def test_an_edited_waiver_is_named(seeded_home: Home, signing_public_key: Path) -> None:
    con = duckdb.connect(str(seeded_home.catalog_path), read_only=True)
    row = con.execute("SELECT finding_id, waiver::VARCHAR FROM findings WHERE waiver IS NOT "
                      "NULL ORDER BY finding_id LIMIT 1").fetchone()
    con.close()
    assert row is not None, "the demo home waives findings"
    waiver = json.loads(row[1])
    waiver["expires"] = "2099-12-31"
    edit_catalog(seeded_home, "UPDATE findings SET waiver = ?::JSON WHERE finding_id = ?",
                 [json.dumps(waiver), row[0]])
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith(f"finding {row[0]} (")
    assert "its waiver differs" in first_problem(done)


def test_an_edited_metric_row_is_named(seeded_home: Home, signing_public_key: Path) -> None:
    con = duckdb.connect(str(seeded_home.catalog_path), read_only=True)
    model, version, start = con.execute(
        "SELECT model, version, window_start FROM metric_rows WHERE value IS NOT NULL "
        "ORDER BY model, version, window_start, metric LIMIT 1").fetchone()
    con.close()
    edit_catalog(seeded_home, "UPDATE metric_rows SET value = value + 0.01 WHERE model = ? "
                              "AND version = ? AND window_start = ? AND metric = (SELECT "
                              "min(metric) FROM metric_rows WHERE model = ? AND version = ? "
                              "AND window_start = ? AND value IS NOT NULL)",
                 [model, version, start, model, version, start])
    done = verify(seeded_home, signing_public_key)
    assert done.returncode == 1
    assert first_problem(done).startswith(f"metric rows of {model}@{version}, window ")


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_a_report_with_one_figure_changed_is_rejected_offline(
        seeded_home: Home, signing_public_key: Path, tmp_path: Path, fmt: str) -> None:
    report = tmp_path / f"report.{fmt}"
    done = raigov("report", "--model", "credit-risk", "--format", fmt, "--output", str(report),
                  "--home", str(seeded_home.root), "--actor", "auditor")
    assert done.returncode == 0, done.stderr
    shutil.rmtree(seeded_home.root)          # offline: the home is gone
    offline = {"RAIGOV_HOME": str(tmp_path / "no-home")}
    good = raigov("audit", "verify", "--report", str(report), "--public-key",
                  str(signing_public_key), env=offline)
    assert good.returncode == 0, good.stderr
    assert "accepted offline" in good.stdout
    assert not (tmp_path / "no-home").exists()
    text = report.read_text()
    report.write_text(change_one_figure(text, fmt))
    bad = raigov("audit", "verify", "--report", str(report), "--public-key",
                 str(signing_public_key), env=offline)
    assert bad.returncode == 1
    assert "changed after it was signed" in bad.stderr
    assert "(facts." in bad.stderr and "differs from the signed value" in bad.stderr, bad.stderr


def change_one_figure(text: str, fmt: str) -> str:
    """The report with the first metric value among its facts raised by 0.125."""
    import re

    if fmt == "json":
        start, end = 0, len(text)
    else:
        found = re.search(r'<script type="application/json" id="raigov-report">(.*?)</script>',
                          text, re.S)
        start, end = found.span(1)
    figure = re.compile(r'("value": )(0\.[0-9]+)')
    inner = text[start:end]
    match = figure.search(inner, inner.find('"metrics"'))
    assert match is not None
    changed = (inner[:match.start(2)] + repr(float(match.group(2)) + 0.125)
               + inner[match.end(2):])
    return text[:start] + changed + text[end:]


def _export(seeded_home: Home, tmp_path: Path, fmt: str) -> Path:
    report = tmp_path / f"report.{fmt}"
    done = raigov("report", "--model", "credit-risk", "--format", fmt, "--output", str(report),
                  "--home", str(seeded_home.root), "--actor", "auditor")
    assert done.returncode == 0, done.stderr
    return report


def test_a_figure_changed_only_in_the_visible_html_is_named_offline(
        seeded_home: Home, signing_public_key: Path, tmp_path: Path) -> None:
    import re

    report = _export(seeded_home, tmp_path, "html")
    text = report.read_text()
    script = re.search(r'<script type="application/json" id="raigov-report">.*?</script>',
                       text, re.S)
    cell = re.compile(r"(<td[^>]*>\s*)(\d+\.\d+)")
    match = cell.search(text, script.end()) or cell.search(text)
    assert match is not None and not (script.start() <= match.start() < script.end())
    figure = match.group(2)
    raised = f"{float(figure) + 0.125:.{len(figure.split('.')[1])}f}"
    report.write_text(text[:match.start(2)] + raised + text[match.end(2):])
    bad = raigov("audit", "verify", "--report", str(report), "--public-key",
                 str(signing_public_key), env={"RAIGOV_HOME": str(tmp_path / "no-home")})
    assert bad.returncode == 1
    assert "changed after it was signed (visible text line " in bad.stderr, bad.stderr
    assert f"{raised}" in bad.stderr and "differs from the signed one" in bad.stderr


def test_a_pdf_page_stream_changed_is_named_by_object_offline(
        seeded_home: Home, signing_public_key: Path, tmp_path: Path) -> None:
    import re
    import zlib

    report = _export(seeded_home, tmp_path, "pdf")
    data = report.read_bytes()
    # The first compressed stream that draws text: change one glyph of its first
    # hex-string operand and compress it again (what an editor saving the file does).
    for found in re.finditer(rb"(\d+) 0 obj\s*<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream",
                             data, re.S):
        if b"/FlateDecode" not in found.group(2):
            continue
        try:
            plain = zlib.decompress(found.group(3))
        except zlib.error:
            continue
        glyph = re.search(rb"<([0-9a-fA-F]{4})", plain)
        if b"BT" in plain and glyph:
            break
    else:
        pytest.fail("no text stream in the exported PDF")
    number = found.group(1).decode()
    swapped = b"0000" if glyph.group(1) != b"0000" else b"0001"
    edited = zlib.compress(plain[:glyph.start(1)] + swapped + plain[glyph.end(1):])
    head = re.sub(rb"/Length \d+", b"/Length %d" % len(edited), found.group(2))
    rebuilt = (data[:found.start(2)] + head + data[found.end(2):found.start(3)] + edited
               + data[found.end(3):])
    report.write_bytes(rebuilt)
    bad = raigov("audit", "verify", "--report", str(report), "--public-key",
                 str(signing_public_key), env={"RAIGOV_HOME": str(tmp_path / "no-home")})
    assert bad.returncode == 1
    assert f"(PDF object {number} differs from the signed one)" in bad.stderr, bad.stderr


def test_a_model_card_is_signed_and_a_changed_figure_rejected_offline(
        seeded_home: Home, signing_public_key: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    done = raigov("card", "--model", "credit-risk", "--format", "json", "--output", str(card),
                  "--home", str(seeded_home.root))
    assert done.returncode == 0, done.stderr
    args = ("audit", "verify", "--report", str(card), "--public-key", str(signing_public_key))
    offline = {"RAIGOV_HOME": str(tmp_path / "no-home")}
    assert raigov(*args, env=offline).returncode == 0
    data = json.loads(card.read_text())
    data["model_details"]["name"] = "another-model"
    card.write_text(json.dumps(data, indent=2))
    bad = raigov(*args, env=offline)
    assert bad.returncode == 1
    assert "card.model_details.name differs from the signed value" in bad.stderr
