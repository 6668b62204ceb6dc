"""Partition change stamps: a settled partition costs a stat, and any change to what it
shows (a segment landing, a compaction, a deletion) is still seen."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raigov.home import Home
from raigov.models.capture.segments import write_segment
from raigov.store.compaction import compact
from raigov.store.lake import partition_dir, partition_fingerprints, partition_files
from raigov.store.partition_stamps import FINGERPRINT_FILE, SETTLED_S, STATE_FILE, settled_stamp

# Stamps are directory mtimes of a local lake; an S3 lake has none and lists instead.
pytestmark = pytest.mark.local_lake_only

DAYS = ("2026-03-02", "2026-03-03", "2026-03-04")
NOW = dt.datetime(2026, 3, 9, tzinfo=dt.timezone.utc)


def _segment(home: Home, day: str, stem: str, start: int, n: int = 20) -> None:
    base = dt.datetime.fromisoformat(f"{day}T00:00:00+00:00")
    table = pa.table({
        "prediction_id": [f"{day}-{start + i}" for i in range(n)],
        "version": pa.array([1] * n, pa.int32()),
        "ts": pa.array([base + dt.timedelta(seconds=start + i) for i in range(n)],
                       pa.timestamp("us", tz="UTC")),
        "x": [float(i) for i in range(n)]})
    write_segment(home, ("predictions", "m", day), [table], stem=stem)


def _age(directory: Path) -> None:
    """Backdate the directory's mtime past the settling time (as if written a while ago)."""
    old = time.time() - 10 * SETTLED_S
    os.utime(directory, (old, old))


def _ids(directory: Path) -> list[str]:
    return sorted(i for p in partition_files(directory)
                  for i in pq.read_table(p, columns=["prediction_id"]).column(0).to_pylist())


def test_a_fresh_directory_has_no_stamp_and_a_settled_one_changes_with_its_files(
        home: Home) -> None:
    _segment(home, DAYS[0], "20260302T000000-a", 0)
    directory = partition_dir(home, "predictions", "m", DAYS[0])
    assert settled_stamp(directory) is None            # just written: list it instead
    _age(directory)
    stamp = settled_stamp(directory)
    assert stamp is not None and settled_stamp(directory) == stamp
    _segment(home, DAYS[0], "20260302T010000-b", 100)  # renamed into place
    _age(directory)
    assert settled_stamp(directory) not in (None, stamp)
    assert settled_stamp(directory.parent / "date=1999-01-01") is None


def test_fingerprints_change_when_a_segment_lands_in_a_settled_partition(home: Home) -> None:
    for day in DAYS:
        _segment(home, day, f"{day.replace('-', '')}T000000-a", 0)
        _age(partition_dir(home, "predictions", "m", day))
    before = partition_fingerprints(home, "predictions", "m")
    cache = home.lake_table("predictions") / "model=m" / FINGERPRINT_FILE
    assert sorted(json.loads(cache.read_text())) == [f"date={d}" for d in DAYS]
    assert partition_fingerprints(home, "predictions", "m") == before    # from the cache
    cache.unlink()
    assert partition_fingerprints(home, "predictions", "m") == before    # a listing agrees
    _segment(home, DAYS[1], "20260303T050000-late", 500)
    after = partition_fingerprints(home, "predictions", "m")
    changed = {d.isoformat() for d in after if after[d] != before[d]}
    assert changed == {DAYS[1]}
    _age(partition_dir(home, "predictions", "m", DAYS[1]))   # settles: still not the old one
    assert partition_fingerprints(home, "predictions", "m")[dt.date.fromisoformat(DAYS[1])] \
        != before[dt.date.fromisoformat(DAYS[1])]


def test_compaction_skips_settled_partitions_it_found_done_and_merges_late_rows(
        home: Home) -> None:
    for day in DAYS:
        for s in range(3):
            _segment(home, day, f"{day.replace('-', '')}T00000{s}-s", s * 20)
    assert compact(home, now=NOW).partitions == 3
    for day in DAYS:
        _age(partition_dir(home, "predictions", "m", day))
    assert compact(home, now=NOW).partitions == 0           # checked once, remembered
    state_file = home.lake_table("predictions") / "model=m" / STATE_FILE
    assert sorted(json.loads(state_file.read_text())) == [f"date={d}" for d in DAYS]
    # A late segment lands in a remembered day: its directory moved, so it is merged.
    _segment(home, DAYS[2], "20260305T000000-late", 900, n=7)
    late = partition_dir(home, "predictions", "m", DAYS[2])
    _age(late)
    result = compact(home, now=NOW)
    assert result.partitions == 1 and result.rows == 67
    names = [p.name for p in partition_files(late)]
    assert len(names) == 1 and names[0].startswith("c-")
    assert _ids(late) == sorted([f"{DAYS[2]}-{i}" for i in range(60)]
                                + [f"{DAYS[2]}-{900 + i}" for i in range(7)])


def test_a_damaged_state_file_only_costs_a_check_of_every_partition(home: Home) -> None:
    for s in range(2):
        _segment(home, DAYS[0], f"20260302T00000{s}-s", s * 20)
    compact(home, now=NOW)
    directory = partition_dir(home, "predictions", "m", DAYS[0])
    _age(directory)
    compact(home, now=NOW)
    state_file = directory.parent / STATE_FILE
    state_file.write_text("[not a mapping")
    assert compact(home, now=NOW).partitions == 0
    assert sorted(json.loads(state_file.read_text())) == [f"date={DAYS[0]}"]
    assert len(_ids(directory)) == 40
