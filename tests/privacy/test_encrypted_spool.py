"""The spool is encrypted whenever a data key is set: an acknowledged row waiting to be
sealed shows none of its values in the spool file's bytes, seals into the lake as
before, and a spool file read without its key (or with another one) is an error that
keeps the file, never damage that moves it to quarantine."""

from __future__ import annotations

import secrets
from pathlib import Path

import pyarrow as pa
import pytest

from raigov.home import Home
from raigov.models.capture.spool import (NEEDS_KEY, SpoolKeyError, encode_frame, frame_bytes,
                                         new_spool_name, scan_spool, spool_cipher_key)
from raigov.models.capture.writer import CaptureWriter
from raigov.store.lake import lake_connection
from tests.serving.capture_fixtures import batch, small_spec

SPEC = small_spec()


def _key_file(path: Path) -> Path:
    path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    return path


def _wal(home: Home) -> Path:
    files = sorted(p for p in home.spool.glob("slot-*/*.wal") if p.stat().st_size)
    assert len(files) == 1, files
    return files[0]


def _rows(n: int) -> tuple[pa.Table, list[str]]:
    table, ids = batch(SPEC, n, seed=7)
    return table, ids


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch) -> Path:
    key = _key_file(tmp_path / "data.key")
    monkeypatch.setenv("RAIGOV_DATA_KEY_FILE", str(key))
    monkeypatch.delenv("RAIGOV_DATA_KEY", raising=False)
    return key


def test_rows_waiting_in_the_spool_are_ciphertext_and_seal_into_the_lake(
        home: Home, keyed: Path) -> None:
    table, ids = _rows(50)
    with CaptureWriter(home, seal_interval_s=3600) as writer:
        writer.submit(table, lake_table="predictions", model=SPEC.name).result(timeout=10)
        raw = _wal(home).read_bytes()
        for value in ids[:10] + ["Female", "Male"]:
            assert value.encode() not in raw, value
        assert b'"enc": "aes-256-gcm"' in raw
        frames = scan_spool(_wal(home), data_key=bytes.fromhex(keyed.read_text())).frames
        assert sorted(frames[0].table.column("prediction_id").to_pylist()) == sorted(ids)
    with lake_connection(home, model=SPEC.name) as con:
        stored = sorted(r[0] for r in con.execute("SELECT prediction_id FROM predictions")
                        .fetchall())
    assert stored == sorted(ids)


def test_without_a_data_key_the_spool_stays_clear(home: Home, monkeypatch) -> None:
    monkeypatch.delenv("RAIGOV_DATA_KEY_FILE", raising=False)
    monkeypatch.delenv("RAIGOV_DATA_KEY", raising=False)
    table, ids = _rows(5)
    with CaptureWriter(home, seal_interval_s=3600) as writer:
        writer.submit(table, lake_table="predictions", model=SPEC.name).result(timeout=10)
        raw = _wal(home).read_bytes()
        assert ids[0].encode() in raw and b'"enc"' not in raw


def test_a_spool_file_without_its_key_or_with_another_is_kept_not_quarantined(
        home: Home, keyed: Path, tmp_path: Path, monkeypatch) -> None:
    table, ids = _rows(20)
    # What a writer killed before sealing leaves: an encrypted spool file in a slot whose
    # lock died with it.
    slot = home.spool / "slot-900"
    slot.mkdir(parents=True)
    name, tag_key = new_spool_name()
    wal = slot / name
    frame = encode_frame(table, lake_table="predictions", model=SPEC.name,
                         cipher_key=spool_cipher_key(bytes.fromhex(keyed.read_text())))
    wal.write_bytes(frame_bytes(frame, tag_key))

    with pytest.raises(SpoolKeyError) as no_key:
        scan_spool(wal, data_key=None)
    assert str(no_key.value) == NEEDS_KEY.format(path=wal)
    other = secrets.token_bytes(32)
    with pytest.raises(SpoolKeyError, match="encrypted under another data key"):
        scan_spool(wal, data_key=other)

    monkeypatch.setenv("RAIGOV_DATA_KEY_FILE", str(_key_file(tmp_path / "other.key")))
    with CaptureWriter(home, seal_interval_s=3600) as second:
        assert second.health["seal"].errors >= 1     # the old file could not be sealed
    assert wal.exists()                              # kept, waiting for its key
    assert not list(home.spool_quarantine.glob("*.bin"))    # not taken for damage

    monkeypatch.setenv("RAIGOV_DATA_KEY_FILE", str(keyed))
    CaptureWriter(home, seal_interval_s=3600).start().close()
    assert not wal.exists()
    with lake_connection(home, model=SPEC.name) as con:
        stored = sorted(r[0] for r in con.execute("SELECT prediction_id FROM predictions")
                        .fetchall())
    assert stored == sorted(ids)
