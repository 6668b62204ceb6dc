"""Benchmark: what it costs ``POST /feedback`` to know that a prediction id was served
and not yet labelled. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_feedback_lookup.py [--days 30]
     [--segments-per-day 24] [--rows-per-segment 2000] [--ids 100] [--rounds 5]
     [--out bench-out/feedback_lookup.json]

A lake is written straight as sealed segments (``write_segment``, the capture path's
own writer): ``days`` days of predictions of one model with 10 feature columns, each
day ``segments-per-day`` segments, UUIDv7 ids made at the event time; 85% of them
labelled a day later. Then, per round, the median seconds of:

- ``lake_recent``: ids served yesterday (labels arrive a day later), all found in the
  first pass over the partitions of the ids' days;
- ``lake_unknown``: UUIDv7 ids that were never served (the attack): both passes;
- ``lake_callers_ids``: caller-chosen ids (``/log``), no bound: every partition;
- ``memory``: the same check against this process's in-memory sets (ids it served or
  labelled since start), and the per-id cost of adding ids there on the predict path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MODEL = "bench-model"


def _ids(moments_ms, rng) -> list[str]:
    import numpy as np

    from raigov.ids import _format

    ms = np.asarray(moments_ms, dtype=np.uint64)
    counter = np.arange(len(ms), dtype=np.uint64) % 4096
    return _format(ms, counter, rng.bytes(8 * len(ms)))


def build_lake(home, *, days: int, segments: int, rows: int, seed: int = 0) -> dict:
    import numpy as np
    import pyarrow as pa

    from raigov.models.capture.segments import write_segment

    rng = np.random.default_rng(seed)
    end = dt.date.today()
    served_by_day: dict[dt.date, list[str]] = {}
    for d in range(days):
        day = end - dt.timedelta(days=days - d)
        base = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
        day_ids: list[str] = []
        for s in range(segments):
            ms = np.sort(base + rng.integers(0, 86_400_000, rows))
            ids = _ids(ms, rng)
            day_ids += ids
            ts = pa.array(ms.astype("datetime64[ms]").astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))
            cols = {"prediction_id": pa.array(ids), "version": pa.array(np.ones(rows, np.int32)),
                    "ts": ts, "captured_at": ts, "label": pa.array(rng.integers(0, 2, rows)),
                    "score": pa.array(rng.random(rows))}
            cols |= {f"f{i}": pa.array(rng.normal(size=rows)) for i in range(10)}
            write_segment(home, ("predictions", MODEL, day.isoformat()), [pa.table(cols)],
                          stem=f"{d:04d}-{s:04d}")
            labelled = [pid for pid in ids if rng.random() < 0.85]
            fb = pa.table({"prediction_id": pa.array(labelled),
                           "y_true": pa.array(rng.integers(0, 2, len(labelled))),
                           "y_value": pa.nulls(len(labelled), pa.float64()),
                           "received_at": pa.array([dt.datetime.combine(day + dt.timedelta(days=1), dt.time(12), dt.timezone.utc)] * len(labelled),
                                                   pa.timestamp("us", tz="UTC"))})
            write_segment(home, ("feedback", MODEL, (day + dt.timedelta(days=1)).isoformat()),
                          [fb], stem=f"{d:04d}-{s:04d}")
        served_by_day[day] = day_ids
    return served_by_day


def _median_s(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    import numpy as np

    from raigov.home import Home
    from raigov.models.serving.served_ids import RecentIds
    from raigov.store.id_lookup import lookup_ids

    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--segments-per-day", type=int, default=24)
    parser.add_argument("--rows-per-segment", type=int, default=2000)
    parser.add_argument("--ids", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:  # noqa: SIM117
        home = Home.resolve(Path(tmp) / "home").ensure()
        t0 = time.perf_counter()
        by_day = build_lake(home, days=args.days, segments=args.segments_per_day,
                            rows=args.rows_per_segment)
        built_s = time.perf_counter() - t0
        yesterday = list(by_day[max(by_day)])
        recent = [yesterday[i] for i in rng.choice(len(yesterday), args.ids, replace=False)]
        now_ms = int(time.time() * 1000)
        unknown = _ids(np.full(args.ids, now_ms - 3_600_000), rng)
        callers = [f"req-{i}" for i in range(args.ids)]
        check = lookup_ids(home, MODEL, served=recent, labelled=recent)
        assert len(check.served) == args.ids, "every recent id is found"
        assert not lookup_ids(home, MODEL, served=unknown).served
        figures = {name: _median_s(lambda ids=ids: lookup_ids(home, MODEL, served=ids, labelled=ids),
                                   args.rounds)
                   for name, ids in (("lake_recent", recent), ("lake_unknown", unknown),
                                     ("lake_callers_ids", callers))}
        memory = RecentIds(cap=2_000_000)
        all_ids = [pid for ids in by_day.values() for pid in ids]
        add_s = _median_s(lambda: memory.add(all_ids[:200_000]), 1) / 200_000
        memory.add(all_ids[:1_000_000])
        hits_s = _median_s(lambda: [pid in memory for pid in recent + unknown], args.rounds)
    result = {"benchmark": "feedback_lookup", "cpu_count": os.cpu_count(),
              "predictions": sum(len(v) for v in by_day.values()),
              "segments": args.days * args.segments_per_day * 2, "ids_per_lookup": args.ids,
              "build_s": round(built_s, 2),
              **{f"{k}_s": round(v, 4) for k, v in figures.items()},
              "memory_check_per_id_us": round(hits_s / (2 * args.ids) * 1e6, 3),
              "memory_add_per_id_us": round(add_s * 1e6, 3)}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
