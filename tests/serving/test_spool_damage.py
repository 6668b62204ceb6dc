"""Damaged spool files: every valid frame around the damage is kept, the damaged bytes
are quarantined in the home with the reason, and nothing a client sent can pass for a
frame while the reader scans through the damage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from raigov.home import Home
from raigov.models.capture import spool
from raigov.models.capture.records import feedback_table
from raigov.models.capture.segments import seal_wal
from raigov.models.capture.spool import (encode_frame, encode_legacy_frame, frame_bytes,
                                         new_spool_name, scan_spool)
from raigov.store.lake import lake_connection
from tests.serving.capture_fixtures import batch, small_spec


def _write_spool(directory: Path, tables: list[pa.Table]) -> tuple[Path, list[tuple[int, int]]]:
    """A spool file of one frame per table; returns it and each frame's (start, end)."""
    directory.mkdir(parents=True, exist_ok=True)
    name, key = new_spool_name()
    blobs = [frame_bytes(encode_frame(t, lake_table="predictions", model="tiny"), key)
             for t in tables]
    bounds, at = [], 0
    for blob in blobs:
        bounds.append((at, at + len(blob)))
        at += len(blob)
    path = directory / name
    path.write_bytes(b"".join(blobs))
    return path, bounds


def _flip(path: Path, offset: int) -> bytes:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


def _lake_ids(home: Home) -> list[str]:
    with lake_connection(home, model="tiny") as con:
        return sorted(r[0] for r in con.execute("SELECT prediction_id FROM predictions").fetchall())


def _tables(n: int) -> tuple[list[pa.Table], list[list[str]]]:
    made = [batch(small_spec(), 5 + i, seed=i) for i in range(n)]
    return [t for t, _ in made], [ids for _, ids in made]


def test_a_flipped_payload_byte_loses_only_its_frame_and_the_bytes_are_quarantined(home: Home) -> None:
    tables, ids = _tables(5)
    wal, bounds = _write_spool(home.spool / "slot-000", tables)
    start, end = bounds[2]
    damaged = _flip(wal, (start + end) // 2)
    scan = scan_spool(wal)
    assert [f.table.num_rows for f in scan.frames] == [5, 6, 8, 9]
    assert [(d.offset, d.length) for d in scan.damaged] == [(start, end - start)]
    assert scan.damaged[0].reason.startswith("damaged frame: " + spool.BAD_CRC)

    sealed = seal_wal(home, wal)
    assert _lake_ids(home) == sorted(ids[0] + ids[1] + ids[3] + ids[4])
    [kept] = sealed.damaged
    assert kept.path.read_bytes() == damaged[start:end]
    meta = json.loads(kept.path.with_suffix(".json").read_text())
    assert (meta["offset"], meta["length"], meta["spool_file"]) == (start, end - start, wal.name)
    assert "CRC mismatch" in meta["reason"] and not wal.exists()
    assert kept.path.parent == home.spool_quarantine


def test_a_damaged_length_is_skipped_to_the_next_frame_by_its_tag(home: Home) -> None:
    tables, _ = _tables(3)
    wal, bounds = _write_spool(home.spool / "slot-000", tables)
    _flip(wal, bounds[1][0] + 9)              # the payload length of frame 1
    scan = scan_spool(wal)
    assert [f.table.num_rows for f in scan.frames] == [5, 7]
    assert [(d.offset, d.offset + d.length) for d in scan.damaged] == [bounds[1]]
    assert spool.BAD_TAG in scan.damaged[0].reason


def test_a_torn_last_frame_is_quarantined_as_a_torn_tail(home: Home) -> None:
    tables, ids = _tables(2)
    wal, bounds = _write_spool(home.spool / "slot-000", tables)
    data = wal.read_bytes()
    wal.write_bytes(data[:bounds[1][0] + 40])       # the second write was cut short
    sealed = seal_wal(home, wal)
    assert _lake_ids(home) == sorted(ids[0])
    [kept] = sealed.damaged
    assert kept.reason.startswith("torn tail") and kept.length == 40
    assert kept.path.read_bytes() == data[bounds[1][0]:bounds[1][0] + 40]


def _spool_with_embedded(home: Home, embed: Callable[[bytes], bytes]) -> tuple[Path, tuple[int, int]]:
    """Frame 0, a frame whose payload holds ``embed(file key)`` verbatim (as a string
    feature can, in UTF-8) and whose marker is then damaged, frame 2. Returns the file
    and the damaged frame's byte range."""
    for old in home.spool.glob("slot-000/*.wal"):
        old.unlink()
    wal, bounds = _write_spool(home.spool / "slot-000", _tables(3)[0])
    embedded = embed(spool.spool_key(wal))
    data = bytearray(wal.read_bytes())
    start, end = bounds[1]
    middle = (start + end) // 2
    data[middle:middle] = embedded                 # inside frame 1's payload
    data[start + 2] ^= 0xFF                        # frame 1's marker: the reader must scan
    wal.write_bytes(bytes(data))
    return wal, (start, end + len(embedded))


_FORGED = feedback_table(["victim-id"], [1])


def _forged_frame(key: bytes) -> bytes:
    return frame_bytes(encode_frame(_FORGED, lake_table="feedback", model="tiny"), key)


def test_a_frame_a_client_spells_out_inside_a_damaged_frame_is_not_taken(home: Home) -> None:
    """The attack resynchronising invites: bytes a client sent (a string feature) that
    spell out a whole frame, of feedback here, inside a frame that then gets damaged.
    Without the file's key the embedded frame's tag cannot check, so its rows never
    reach the lake; an old-format frame is not even looked for in a new file."""
    attempts = {"a guessed key": lambda key: _forged_frame(bytes(16)),
                "the old format": lambda key: encode_legacy_frame(
                    _FORGED, lake_table="feedback", model="tiny")}
    for attempt, embed in attempts.items():
        wal, damaged = _spool_with_embedded(home, embed)
        scan = scan_spool(wal)
        assert [f.lake_table for f in scan.frames] == ["predictions", "predictions"], attempt
        assert [(d.offset, d.offset + d.length) for d in scan.damaged] == [damaged], attempt


def test_with_the_files_key_the_embedded_frame_would_be_found(home: Home) -> None:
    """The control for the test above: the scan does look inside damaged bytes."""
    wal, _ = _spool_with_embedded(home, _forged_frame)
    assert [f.lake_table for f in scan_spool(wal).frames] == ["predictions", "feedback",
                                                              "predictions"]


def test_a_spool_file_of_the_old_format_still_reads(home: Home) -> None:
    tables, ids = _tables(3)
    directory = home.spool / "slot-000"
    directory.mkdir(parents=True)
    wal = directory / "00000001764633600000000000-1a2b3c4d.wal"
    wal.write_bytes(b"".join(encode_legacy_frame(t, lake_table="predictions", model="tiny")
                             for t in tables))
    assert [f.table.num_rows for f in scan_spool(wal).frames] == [5, 6, 7]
    seal_wal(home, wal)
    assert _lake_ids(home) == sorted(i for group in ids for i in group)


def test_damage_in_an_old_format_file_keeps_the_rest_of_the_file_in_quarantine(home: Home) -> None:
    tables, ids = _tables(3)
    blobs = [encode_legacy_frame(t, lake_table="predictions", model="tiny") for t in tables]
    directory = home.spool / "slot-000"
    directory.mkdir(parents=True)
    wal = directory / "00000001764633600000000000-1a2b3c4d.wal"
    start = len(blobs[0])
    data = bytearray(b"".join(blobs))
    data[start + len(blobs[1]) // 2] ^= 0xFF
    wal.write_bytes(bytes(data))
    sealed = seal_wal(home, wal)
    assert _lake_ids(home) == sorted(ids[0])
    [kept] = sealed.damaged
    assert kept.path.read_bytes() == bytes(data[start:])
    assert "not resynchronised" in kept.reason


def test_sealing_a_damaged_spool_file_twice_keeps_the_same_files(home: Home) -> None:
    tables, ids = _tables(3)
    wal, bounds = _write_spool(home.spool / "slot-000", tables)
    copy = _flip(wal, bounds[0][0] + 30)
    first = seal_wal(home, wal)
    wal.write_bytes(copy)                      # a crash before the spool file was deleted
    second = seal_wal(home, wal)
    assert [k.path for k in first.damaged] == [k.path for k in second.damaged]
    assert sorted(p.name for p in home.spool_quarantine.iterdir()) == sorted(
        [first.damaged[0].path.name, first.damaged[0].path.with_suffix(".json").name])
    assert _lake_ids(home) == sorted(ids[1] + ids[2])
