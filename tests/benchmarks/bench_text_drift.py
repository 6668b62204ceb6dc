"""Benchmark: text drift (``drift.feature.<text column>``) against Evidently 0.7's own
``Report([ValueDrift(column=...)])`` on the same rows, one run. Prints JSON.

Run: .venv/bin/python tests/benchmarks/bench_text_drift.py [--rows 100000] [--small 500]

Data: the vendored Rotten Tomatoes reviews resampled with replacement (seeded) to
``--rows`` texts a side, the current side a topic shift (comedy reviews) and a calm
sample (the rest), and a small window of ``--small`` texts a side, where Evidently's
1,000 random scorers dominate. Above 1,000 reference texts both tools run the same
TF-IDF + SGD fit (no speed-up is claimed there); below it raigov computes the random
scorers' AUCs from ranks at once. "equal": scores to 1e-12 and the same verdict.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
COMEDY = r"\b(?:funny|laughs?|comedy|comedies|hilarious|jokes?|gags?)\b"


def evidently_score(reference: pd.Series, current: pd.Series) -> float:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    definition = DataDefinition(text_columns=["t"])
    snapshot = Report([ValueDrift(column="t")]).run(
        Dataset.from_pandas(pd.DataFrame({"t": current.to_numpy()}), data_definition=definition),
        Dataset.from_pandas(pd.DataFrame({"t": reference.to_numpy()}), data_definition=definition))
    return float(snapshot.dict()["metrics"][0]["value"])


def case(name: str, reference: pd.Series, current: pd.Series) -> dict:
    from evidently.legacy.utils.data_drift_utils import calculate_text_drift_score

    from raigov.monitors.drift_text import text_drift

    t0 = time.perf_counter()
    ours = text_drift(reference, current)
    t1 = time.perf_counter()
    theirs = evidently_score(reference, current)
    t2 = time.perf_counter()
    _, verdict = calculate_text_drift_score(reference, current,
                                            bootstrap=len(reference) <= 1000)
    return {"case": name, "rows_a_side": len(reference), "raigov_s": round(t1 - t0, 3),
            "evidently_s": round(t2 - t1, 3), "speedup": round((t2 - t1) / (t1 - t0), 2),
            "score": ours["score"], "evidently_score": theirs, "drifted": ours["drifted"],
            "equal": abs(ours["score"] - theirs) < 1e-12 and ours["drifted"] == bool(verdict)}


def main() -> None:
    from importlib.resources import files

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=500)
    args = parser.parse_args()
    texts = pd.read_parquet(files("raigov.models") / "demo_data" / "reviews.parquet")["text"]
    comedy = texts[texts.str.contains(COMEDY, case=False, regex=True)]
    rest = texts[~texts.index.isin(comedy.index)]
    rng = np.random.default_rng(0)

    def draw(pool: pd.Series, n: int) -> pd.Series:
        return pool.iloc[rng.integers(0, len(pool), n)].reset_index(drop=True)

    out = []
    for n in (args.small, args.rows):
        reference = draw(rest, n)
        out.append(case(f"calm-{n}", reference, draw(rest, n)))
        out.append(case(f"topic-shift-{n}", reference, draw(comedy, n)))
    print(json.dumps({"benchmark": "text_drift", "cases": out}, indent=2))


if __name__ == "__main__":
    main()
