"""Feedback integrity without a server: the body (corrections, reasons, duplicates,
unknown fields), the label in force (first label stands, latest correction wins, old
segments read), the served-id memory and the lake lookup behind ``/feedback``."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raigov.home import Home
from raigov.ids import uuid7
from raigov.models.capture.records import feedback_table
from raigov.models.capture.segments import write_segment
from raigov.models.serving import feedback_body as fb
from raigov.models.serving.served_ids import RecentIds
from raigov.store.id_lookup import lookup_ids, uuid7_day
from raigov.store.lake import lake_connection, partition_dir


@pytest.fixture(scope="module")
def spec(credit_demo):
    return credit_demo.spec


def read(payload: dict, spec):
    return fb.read_feedback(payload, spec)


def test_plain_labels_and_corrections_with_a_reason_on_the_item_or_the_request(spec) -> None:
    items, errors = read({"labels": [{"prediction_id": "a", "label": "good"},
                                     {"prediction_id": "b", "label": 0, "correction": True,
                                      "reason": "own"}],
                          "reason": "request's"}, spec)
    assert errors == []
    assert items == [fb.LabelItem("a", 1, False, None), fb.LabelItem("b", 0, True, "own")]
    items, errors = read({"labels": [{"prediction_id": "a", "label": 1}], "correction": True,
                          "reason": "audit 12"}, spec)
    assert errors == [] and items == [fb.LabelItem("a", 1, True, "audit 12")]


@pytest.mark.parametrize(("payload", "expected"), [
    ({"labels": [{"prediction_id": "a", "label": 1, "correction": True}]},
     [(0, "reason", "missing", fb.NO_REASON)]),
    ({"labels": [{"prediction_id": "a", "label": 1, "correction": True, "reason": "  "}]},
     [(0, "reason", "type", fb.BAD_REASON)]),
    ({"labels": [{"prediction_id": "a", "label": 1, "reason": "why"}]},
     [(0, "reason", "correction", fb.REASON_WITHOUT_CORRECTION)]),
    ({"labels": [{"prediction_id": "a", "label": 1}], "reason": "why"},
     [(None, "reason", "correction", fb.REASON_WITHOUT_CORRECTION)]),
    ({"labels": [{"prediction_id": "a", "label": 1, "correction": "yes", "reason": "r"}]},
     [(0, "correction", "type", fb.BAD_CORRECTION)]),
    ({"labels": [{"prediction_id": "a", "label": 1, "corection": True}]},
     [(0, "corection", "unknown", fb.UNKNOWN_ITEM_FIELD.format(
         field="corection", allowed=", ".join(fb.ITEM_FIELDS),
         hint=" Did you mean 'correction' or 'prediction_id'?"))]),
    ({"labels": [{"prediction_id": "a", "label": 1}], "timestmap": "x"},
     [(None, "timestmap", "unknown", fb.UNKNOWN_BODY_FIELD.format(
         field="timestmap", allowed=", ".join(fb.BODY_FIELDS), hint=" Did you mean 'timestamp'?"))]),
    ({"labels": [{"prediction_id": "a", "label": 1}, {"prediction_id": "a", "label": 0}]},
     [(0, "prediction_id", "unique", fb.REPEATED_ID.format(id="a", rows=[0, 1])),
      (1, "prediction_id", "unique", fb.REPEATED_ID.format(id="a", rows=[0, 1]))]),
    ({"labels": []}, [(None, "labels", "type", fb.NOT_A_LIST)]),
])
def test_each_bad_feedback_body_is_named_by_row_field_and_check(spec, payload, expected) -> None:
    items, errors = read(payload, spec)
    assert items == []
    assert [(e.row, e.field, e.check, e.message) for e in errors] == expected


def _feedback_segment(home: Home, table: pa.Table, day: str, stem: str) -> None:
    write_segment(home, ("feedback", "m", day), [table], stem=stem)


def _prediction_segment(home: Home, ids: list[str], day: str) -> None:
    ts = dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.timezone.utc)
    write_segment(home, ("predictions", "m", day), [pa.table({
        "prediction_id": pa.array(ids), "version": pa.array([1] * len(ids), pa.int32()),
        "ts": pa.array([ts] * len(ids), pa.timestamp("us", tz="UTC")),
        "label": pa.array([1] * len(ids), pa.int64())})], stem=f"p-{day}")


def test_the_first_label_stands_the_latest_correction_wins_and_old_segments_still_read(
        tmp_path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    _prediction_segment(home, ["a", "b", "c"], "2026-11-01")
    old = pa.table({"prediction_id": ["a", "b", "a"], "y_true": pa.array([1, 0, 0], pa.int64()),
                    "y_value": pa.nulls(3, pa.float64()),
                    "received_at": pa.array([dt.datetime(2026, 11, 2, h, tzinfo=dt.timezone.utc)
                                             for h in (1, 2, 3)], pa.timestamp("us", tz="UTC"))})
    directory = partition_dir(home, "feedback", "m", "2026-11-02")   # written by an older raigov
    directory.mkdir(parents=True)
    pq.write_table(old, directory / "old.parquet")
    corrections = [(dt.datetime(2026, 11, 3, 9, tzinfo=dt.timezone.utc), 1, "first fix"),
                   (dt.datetime(2026, 11, 4, 9, tzinfo=dt.timezone.utc), 0, "second fix")]
    for i, (when, y, why) in enumerate(corrections):
        _feedback_segment(home, feedback_table(["b"], [y], received_at=when, correction=True,
                                               reason=why), when.date().isoformat(), f"c{i}")
    with lake_connection(home, model="m") as con:
        rows = con.execute("SELECT prediction_id, y_true, label_received_at::VARCHAR, "
                           "label_corrections FROM labelled ORDER BY 1").fetchall()
        plain = con.execute("SELECT count(*) FROM feedback WHERE correction IS NULL").fetchone()
    assert rows == [("a", 1.0, "2026-11-02 01:00:00+00", 0),       # the first of two old labels
                    ("b", 0.0, "2026-11-04 09:00:00+00", 2),       # the latest correction
                    ("c", None, None, None)]
    assert plain == (3,)


def test_recent_ids_forget_the_oldest_generation_beyond_the_cap() -> None:
    ids = RecentIds(cap=80)
    ids.add(f"old-{i}" for i in range(10))
    for batch in range(8):
        ids.add(f"new-{batch}-{i}" for i in range(10))
    assert "old-0" not in ids and "new-7-9" in ids and len(ids) <= 80
    ids.discard(["new-7-9"])
    assert "new-7-9" not in ids


def test_uuid7_ids_give_their_day_and_other_ids_none() -> None:
    assert uuid7_day(uuid7()) == dt.datetime.now(dt.timezone.utc).date()
    assert uuid7_day("req-17") is None
    assert uuid7_day("5f0e6a8e-1c1b-4a7e-9f00-000000000000") is None   # a UUIDv4


def test_the_lake_lookup_finds_ids_in_any_partition_and_labels_after_their_day(tmp_path) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    live, backfilled, caller = uuid7(), uuid7(), "req-1"
    today = dt.datetime.now(dt.timezone.utc).date()
    _prediction_segment(home, [live, caller], today.isoformat())
    _prediction_segment(home, [backfilled], (today - dt.timedelta(days=200)).isoformat())
    _feedback_segment(home, feedback_table([live], [1]), today.isoformat(), "f1")
    found = lookup_ids(home, "m", served=[live, backfilled, caller, uuid7(), "req-2"],
                       labelled=[live, backfilled])
    assert found.served == {live, backfilled, caller}
    assert found.labelled == {live}
