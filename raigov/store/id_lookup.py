"""Which prediction ids a model's sealed lake holds, and which of them have a label:
what ``POST /v1/models/{name}/feedback`` asks before it takes a label.

Only the ``prediction_id`` column is read (Parquet projection). Predictions are
partitioned by event time, which a backfill may set long before the id was made, so
the id's own time (a UUIDv7 carries its millisecond) bounds a partition only from
above: ``date <= the id's day + 1`` (an event time is never accepted further ahead of
the clock than a few minutes). The first pass reads the partitions of the days the
ids were made, give or take one (live traffic: the event time is the capture time);
ids it does not find are looked up in the other partitions up to that bound. A
caller's own id (``/log``, CloudEvents) carries no time: every partition is read.

Labels are partitioned by their arrival time, which comes after the prediction: for
UUIDv7 ids only feedback partitions from the day before the earliest id's day on are
read. A label backfilled to a day before its prediction was made is not seen by this
check (the lake's ``labelled`` view still lets the first label stand).
The files are listed from the partition directories here, so no other partition's
footer is opened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from raigov.home import Home
from raigov.store.lake import partition_dir, partition_files, reading, segment_relation
from raigov.store.lake_fs import fs_of


@dataclass(frozen=True)
class LakeIds:
    served: frozenset[str]       # of the ids asked, those the predictions table holds
    labelled: frozenset[str]     # of the ids asked, those the feedback table holds


def uuid7_day(prediction_id: str) -> dt.date | None:
    """The UTC day a UUIDv7 was made, or None for any other id (a caller's own)."""
    try:
        value = uuid.UUID(prediction_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    ms = value.int >> 80
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).date()


def lookup_ids(home: Home, model: str, *, served: Sequence[str] = (),
               labelled: Sequence[str] = ()) -> LakeIds:
    """Of ``served``, the ids the model's predictions hold; of ``labelled``, those its
    feedback holds (sealed segments only: the spool is not read)."""
    if not served and not labelled:
        return LakeIds(frozenset(), frozenset())
    con = duckdb.connect(":memory:")
    try:
        with reading(home):
            found = _served(con, home, model, list(dict.fromkeys(served))) if served else set()
            has_label = (_labelled(con, home, model, list(dict.fromkeys(labelled)))
                         if labelled else set())
    finally:
        con.close()
    return LakeIds(frozenset(found), frozenset(has_label))


def _served(con: duckdb.DuckDBPyConnection, home: Home, model: str, ids: list[str]) -> set[str]:
    days = [uuid7_day(pid) for pid in ids]
    if any(d is None for d in days):       # a caller's id: no bound from it
        return _present(con, home, _files(home, "predictions", model), ids)
    near = {d + dt.timedelta(days=k) for d in days for k in (-1, 0, 1)}
    found = _present(con, home, _files(home, "predictions", model, only=near), ids)
    missing = [pid for pid in ids if pid not in found]
    if missing:
        bound = max(days) + dt.timedelta(days=1)
        rest = _files(home, "predictions", model, until=bound, skip=near)
        found |= _present(con, home, rest, missing)
    return found


def _labelled(con: duckdb.DuckDBPyConnection, home: Home, model: str, ids: list[str]) -> set[str]:
    days = [uuid7_day(pid) for pid in ids]
    since = None if any(d is None for d in days) else min(days) - dt.timedelta(days=1)
    return _present(con, home, _files(home, "feedback", model, since=since), ids)


def _files(home: Home, table: str, model: str, *, only: set[dt.date] | None = None,
           since: dt.date | None = None, until: dt.date | None = None,
           skip: set[dt.date] = frozenset()) -> list[str]:
    """The segment files of one model's partitions, chosen by their date."""
    files = []
    model_dir = partition_dir(home, table, model, "*").parent
    for directory in fs_of(model_dir).subdirs(model_dir, "date="):
        try:
            day = dt.date.fromisoformat(directory.name.removeprefix("date="))
        except ValueError:
            continue
        if (only is not None and day not in only) or (until is not None and day > until) \
                or (since is not None and day < since) or day in skip:
            continue
        files += [str(p) for p in partition_files(directory)]
    return files


def _present(con: duckdb.DuckDBPyConnection, home: Home, files: list[str], ids: list[str]) -> set[str]:
    """Of ``ids``, those in the ``prediction_id`` column of ``files`` (that column only:
    segments of older raigov versions read too)."""
    if not files or not ids:
        return set()
    con.register("wanted", pa.table({"prediction_id": pa.array(ids, pa.string())}))
    try:
        source = segment_relation(con, home, files, "_ids", columns=["prediction_id"])
        rows = con.execute(f"SELECT DISTINCT prediction_id FROM {source} WHERE "
                           "prediction_id IN (SELECT prediction_id FROM wanted)").fetchall()
    finally:
        con.unregister("wanted")
    return {row[0] for row in rows}
