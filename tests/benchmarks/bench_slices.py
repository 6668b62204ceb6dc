"""Benchmark: the ``slices`` family's search on one window of Adult rows resampled to
``--rows`` labelled rows (seeded): the test fixture's 9 features and 2 sensitive
attributes, every one- and two-column slice, all three rates. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_slices.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "monitors"))
from adult_predictions import adult_predictions, build_window  # noqa: E402

from raigov.models.datasets import load_adult  # noqa: E402
from raigov.monitors.slices import search_slices, slice_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = adult_predictions()
    base = base[base["y_true"].notna()]
    rng = np.random.default_rng(0)
    frame = base.iloc[rng.integers(0, len(base), args.rows)].reset_index(drop=True)
    window = dataclasses.replace(build_window(frame), reference=load_adult("train"))
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        rows = slice_rows(window)
        times.append(time.perf_counter() - start)
    print(json.dumps({"benchmark": "slices", "rows": args.rows,
                      "slices_tested": len(search_slices(window)),
                      "significant": rows[0].value, "seconds_median": float(np.median(times)),
                      "seconds": times}))


if __name__ == "__main__":
    main()
