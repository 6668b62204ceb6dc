"""``explain.importance.<token>`` rows of a text model: each segment's top words by mean
|word attribution| over its explained rows (0 where absent), ``n`` the rows holding the
word, per text column (segment ``column=review``), per sensitive group and per group the
text mentions; names safe whatever the text holds. Oracles made here: the words merged
by hand from the token-level output (WordPiece's ``##`` mark) and aggregated by pandas
groupby, never by the module's own merge or matrix."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pytest

from raigov.models import demo_text
from raigov.monitors.base import WindowData
from raigov.monitors.explain_rows import Context
from raigov.monitors.explain_tokens import (COLUMN_ATTRIBUTE, TokenGroup, text_rows,
                                            token_importance_rows, token_key)
from tests.monitors import text_tokens_home as th

SPECIAL = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"}


def words_by_hand(found) -> pd.DataFrame:
    """(row, word, attribution) from each row's tokens and attributions: a piece
    starting ``##`` continues the word before it; occurrences in a row summed."""
    long = []
    for row, one in enumerate(found):
        for token, value in zip(one.tokens, one.attributions):
            if token in SPECIAL:
                continue
            if token.startswith("##"):
                long[-1][1] += token[2:]
                long[-1][2] += float(value)
            else:
                long.append([row, token, float(value)])
    frame = pd.DataFrame(long, columns=["row", "word", "attribution"])
    return frame.groupby(["row", "word"], as_index=False)["attribution"].sum()


def expected(long: pd.DataFrame, rows: list[int], top: int) -> dict[str, tuple[float, int]]:
    """word -> (mean |attribution| over ``rows`` with 0 where absent, rows holding it)
    for the ``top`` largest."""
    part = long[long["row"].isin(rows)]
    table = part.pivot(index="row", columns="word", values="attribution") \
        .reindex(rows).abs().fillna(0.0)
    means = table.mean(axis=0).sort_values(ascending=False).head(top)
    return {w: (float(v), int((table[w] > 0).sum())) for w, v in means.items()}


def shown(rows, segment: str) -> dict[str, tuple[float, int]]:
    return {r.details["token"]: (r.value, r.n) for r in rows
            if r.segment == segment and r.metric.startswith("explain.importance.")
            and "token" in r.details}


def synthetic(texts: list[str], seed: int = 0):
    """TokenAttribution of each text with the real tokenizer's words and seeded values."""
    from raigov.models.text import load_tokenizer
    from raigov.monitors.attribution_tokens import TokenAttribution, merge_words

    tokenizer, rng, out = load_tokenizer(demo_text.ENCODER), np.random.default_rng(seed), []
    for text in texts:
        enc = tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
        values = rng.normal(size=len(tokens))
        values[0] = values[-1] = 0.0
        out.append(TokenAttribution(tokens, values, 1.0, float(-values.sum()) + 1.0, 0.0, 32,
                                    1e-2, merge_words(enc, tokens, values, tokenizer)))
    return out


def test_each_segments_top_words_equal_a_groupby_of_the_hand_merged_tokens() -> None:
    texts = [t for t, _ in th.TEXTS] + ["Unbelievably superb, superb!", "dull dull film"]
    found = synthetic(texts)
    long = words_by_hand(found)
    groups = [TokenGroup("column=review", np.ones(len(texts), dtype=bool)),
              TokenGroup("column=review&mentions=women", np.isin(np.arange(len(texts)), [1, 3]))]
    ctx = Context(features=("review",), replicates=50, confidence=0.9, min_n=2, seed=0,
                  base={})
    rows = token_importance_rows(found, groups, column="review", top=6, ctx=ctx)
    for group in groups:
        want = expected(long, list(np.flatnonzero(group.mask)), 6)
        got = shown(rows, group.segment)
        assert list(got) == list(want)                       # the same words, same order
        for word, (value, n) in want.items():
            assert got[word][0] == pytest.approx(value, rel=1e-12)
            assert got[word][1] == n
    for row in rows:
        assert row.metric == f"explain.importance.{token_key(row.details['token'])}"
        assert row.ci_low <= row.value <= row.ci_high
        assert row.status == ("ok" if row.n >= 2 else "insufficient_data")


def test_token_names_keep_letters_and_digits_and_encode_everything_else() -> None:
    hostile = ["<script>alert(1)</script>", "a.b", "x y", "100%", "%25", "tab\there",
               "\u202egnp.exe", "cafe\u0301", "caf\u00e9", "日本", "new\nline", "_ok_", ""]
    keys = {w: token_key(w) for w in hostile}
    assert keys["<script>alert(1)</script>"] == "%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
    assert keys["a.b"] == "a%2Eb" and keys["100%"] == "100%25" and keys["%25"] == "%2525"
    assert keys["cafe\u0301"] == keys["caf\u00e9"] == "caf\u00e9"   # NFC: one word, one name
    assert keys["日本"] == "日本" and keys["_ok_"] == "_ok_"
    for word, key in keys.items():
        assert re.fullmatch(r"[\w%]*", key) and "." not in key, key
        assert key.isprintable() and not any(unicodedata.category(c).startswith("C") for c in key)
    distinct = {unicodedata.normalize("NFC", w) for w in hostile}
    assert len({token_key(w) for w in distinct}) == len(distinct)   # never two words one name

    from raigov.monitors.catalog import metric_info

    assert metric_info(f"explain.importance.{keys['<script>alert(1)</script>']}") is not None


def _window(spec, frame: pd.DataFrame) -> WindowData:
    import datetime as dt

    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    return WindowData(spec=spec, version=1, start=start, end=start + dt.timedelta(days=1),
                      frame=frame, reference=frame)


def test_with_token_sample_0_the_rows_say_how_to_ask_for_token_attributions() -> None:
    from raigov.monitors.explain import ExplainParams

    frame = pd.DataFrame({"review": ["a film"], "mentions": ["none"]})
    rows = text_rows(_window(th.spec(token_sample=0), frame), None, reason="reads token ids",
                     params=ExplainParams())
    assert [(r.metric, r.segment, r.status) for r in rows] == [
        ("explain.importance.review", "all", "insufficient_data"),
        ("explain.attribution_shift", "all", "insufficient_data")]
    assert "monitoring.token_sample is 0" in rows[0].details["reason"]


def test_a_sensitive_attribute_named_column_is_an_error_not_a_clash() -> None:
    from raigov.monitors.explain import ExplainParams

    spec = th.spec(token_sample=4)
    spec = spec.model_copy(update={"sensitive": ("column",)})
    rows = text_rows(_window(spec, pd.DataFrame({"review": ["a"], "column": ["x"]})), None,
                     reason="", params=ExplainParams())
    assert {r.status for r in rows} == {"error"}
    assert rows[0].details["reason"] == COLUMN_ATTRIBUTE.format(model=th.MODEL)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """The small text home with 8 rows a window explained (all six texts)."""
    root = tmp_path_factory.mktemp("tokens")
    artifact = th.train_artifact(root / "artifact")
    home, ids = th.make_home(root / "home", artifact, token_sample=8)
    return home, ids, artifact


def test_a_monitor_run_records_token_rows_equal_to_the_attributions_of_its_texts(
        monitored) -> None:
    from raigov.models.artifacts.load import load_model
    from raigov.monitors.attribution_tokens import attribute_texts
    from raigov.monitors.store import read_metric_rows

    home, ids, artifact = monitored
    rows = read_metric_rows(home, model=th.MODEL, metric_prefix="explain.")
    model = load_model(artifact, th.spec(token_sample=8), device="cpu")
    texts = [t for t, _ in th.TEXTS]
    found = attribute_texts(model, texts)            # the oracle's own attributions
    long = words_by_hand(found)
    segments = {"column=review": list(range(len(texts))),
                "column=review&mentions=women": [1, 3], "column=review&mentions=none": [0, 2, 4, 5],
                "column=review&review_mentions=female": [1, 3]}
    records = [r for r in rows.itertuples() if r.segment.startswith("column=")]
    assert {r.segment for r in records} == set(segments)
    for segment, members in segments.items():
        want = expected(long, members, 20)
        got = {r.details["token"]: (r.value, r.n) for r in records if r.segment == segment}
        assert set(got) == set(want), segment
        for word, (value, n) in want.items():
            assert got[word][0] == pytest.approx(value, abs=1e-6), (segment, word)
            assert got[word][1] == n
    for r in records:
        assert r.metric == f"explain.importance.{token_key(r.details['token'])}"
        assert r.status == ("ok" if r.n >= 2 else "insufficient_data")
        assert r.details["max_completeness_error"] < 1e-2
    # the script tag arrives as three words with safe names, never as markup
    names = set(rows["metric"])
    assert {"explain.importance.%3C", "explain.importance.%3E", "explain.importance.%2F",
            "explain.importance.script"} <= names
    assert not [n for n in names if re.search(r"[<>\s]", n)]

    whole = rows[(rows["metric"] == "explain.importance.review") & (rows["segment"] == "all")]
    [column] = whole.itertuples()
    totals = [abs(f.logit - f.baseline_logit) for f in found]
    assert column.value == pytest.approx(np.mean(totals), abs=1e-2 * 1.01)
    assert set(column.details["completeness_errors"]) == set(ids)
    assert max(column.details["completeness_errors"].values()) < 1e-2
    # the column as a whole keeps the feature's segments (no text holds the word "review")
    assert set(rows.loc[rows["metric"] == "explain.importance.review", "segment"]) == {
        "all", "mentions=women", "mentions=none"}
    shift = rows[rows["metric"] == "explain.attribution_shift"].iloc[0]
    assert shift["status"] == "insufficient_data" and "no fixed feature" in \
        shift["details"]["reason"]


def test_the_word_pieces_of_one_word_make_one_row_and_its_occurrences_one_value(
        monitored) -> None:
    from raigov.monitors.store import read_metric_rows

    home, _, _ = monitored
    rows = read_metric_rows(home, model=th.MODEL, metric_prefix="explain.importance.")
    # segments of at most 20 words, so every word of theirs is reported
    women = rows[rows["segment"] == "column=review&mentions=women"].set_index("metric")
    assert "explain.importance.unbelievably" in women.index     # un ##bel ##ie ##va ##bly
    assert not [m for m in rows["metric"] if "%23%23" in m or m.endswith(".un")]
    none = rows[rows["segment"] == "column=review&mentions=none"].set_index("metric")
    dull = none.loc["explain.importance.dull"]
    assert (dull["n"], dull["details"]["occurrences"]) == (3, 5)   # 3 texts, 5 times
    superb = none.loc["explain.importance.superb"]
    assert (superb["n"], superb["details"]["occurrences"]) == (1, 2)
    assert superb["status"] == "insufficient_data"                 # 1 row < min_group_size 2


def test_only_rows_whose_text_mentions_a_group_make_its_segment() -> None:
    from raigov.monitors.explain_tokens import token_groups

    frame = pd.DataFrame({"review": ["The women", "A man", None], "mentions": ["women", "none",
                                                                          "none"]})
    groups = {g.segment: g.mask.tolist() for g in token_groups(th.spec(token_sample=3), frame,
                                                               "review")}
    assert groups == {"column=review": [True, True, True],
                      "column=review&mentions=none": [False, True, True],
                      "column=review&mentions=women": [True, False, False],
                      "column=review&review_mentions=female": [True, False, False]}
