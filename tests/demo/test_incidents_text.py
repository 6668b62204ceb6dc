"""The text incident kinds and ``--models``: a topic shift weights exactly the reviews
its pattern matches (counted here with Python's ``re``), a text fault empties or cuts
whole requests, bad parameters are refused with their field, and ``--models`` keeps
only the named models and their incidents (the shipped default scenario)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from raigov.cli.demo.incidents import load_incident_kinds
from raigov.cli.demo.scenario import load_scenario
from raigov.errors import ConfigError
from raigov.models.demo_text import reviews

COMEDY = r"\b(?:funny|laughs?|comedy|comedies|hilarious|jokes?|gags?)\b"


def _kind(name: str):
    return load_incident_kinds().get(name)


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    return pd.DataFrame({"review": reviews()["text"].astype(object).iloc[:2000]})


def test_topic_shift_weights_exactly_the_matching_reviews(pool) -> None:
    shift = _kind("topic_shift")(model="review-sentiment", day=1, column="review",
                                 pattern=COMEDY, factor=10)
    weights = shift.sampling_weights(pool)
    hits = [re.search(COMEDY, t, flags=re.IGNORECASE) is not None for t in pool["review"]]
    assert 20 < sum(hits) < len(pool)
    assert weights.tolist() == [10.0 if h else 1.0 for h in hits]
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        _kind("topic_shift")(model="m", day=1, column="review", pattern="(", factor=2)


def test_text_fault_empties_or_cuts_whole_requests(pool) -> None:
    rows = pool.iloc[:5].reset_index(drop=True)
    empty = _kind("text_fault")(model="m", day=1, column="review", fault="empty", share=1.0)
    assert empty.corrupt(rows, np.random.default_rng(0))["review"].tolist() == [""] * 5
    cut = _kind("text_fault")(model="m", day=1, column="review", fault="truncated",
                              share=1.0, keep_words=1)
    got = cut.corrupt(rows, np.random.default_rng(0))["review"].tolist()
    assert got == [t.split()[0] for t in rows["review"]]
    assert rows["review"].tolist() == pool["review"].iloc[:5].tolist()   # not changed in place
    never = _kind("text_fault")(model="m", day=1, column="review", fault="empty", share=0.01)
    assert never.corrupt(rows, np.random.default_rng(1)) is rows   # a draw above share
    with pytest.raises(ValidationError, match="only used by fault 'truncated'"):
        _kind("text_fault")(model="m", day=1, column="review", fault="empty", share=1,
                            keep_words=2)
    assert [d.label() for d in cut.expectation(None)][0] == "quality.text_length [column=review]"
    assert [d.label() for d in empty.expectation(None)] == ["quality.quarantine_rate"]


def test_models_keeps_only_the_named_models_and_their_incidents() -> None:
    default = load_scenario("default")
    assert "review-sentiment" in default.models
    kept, _ = default.with_overrides(models=("review-sentiment",))
    assert kept.models == ["review-sentiment"]
    assert {i.model for i in kept.incidents} == {"review-sentiment"}
    assert len(kept.incidents) == sum(i.model == "review-sentiment" for i in default.incidents)
    with pytest.raises(ConfigError, match="not a model of scenario 'default'.*Did you mean "
                                          "'review-sentiment'"):
        default.with_overrides(models=("review-sentimnt",))
