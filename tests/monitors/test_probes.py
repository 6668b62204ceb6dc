"""Counterfactual probes: the generated sentences of one template differ only in the
identity phrase; the gap is each group's mean score minus the all-groups mean on the
same template, checked against a hand computation; bad template files are refused with
the file and line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raigov.errors import InputError
from raigov.models.identity_terms import CIVIL_COMMENTS
from raigov.monitors.probe_templates import (CIVIL_COMMENTS_PHRASES, probe_phrases,
                                             read_templates, shipped_templates)
from raigov.monitors.probes import gap_rows, probe_sentences


def test_sentences_of_a_template_differ_only_in_the_identity_phrase() -> None:
    templates = shipped_templates()
    assert len(templates) == 16 and len({t.text for t in templates}) == 16
    assert set(CIVIL_COMMENTS_PHRASES) == set(CIVIL_COMMENTS)
    sentences = probe_sentences(templates, probe_phrases(CIVIL_COMMENTS, shipped=True))
    assert len(sentences) == 16 * 18
    for _, one in sentences.groupby("template"):
        stripped = {t.lower().replace(p.lower(), "<X>", 1)
                    for t, p in zip(one["text"], one["phrase"])}
        assert len(stripped) == 1                 # the same sentence once the phrase is out
        assert one["text"].nunique() == len(one)


def test_the_gap_is_the_group_mean_minus_the_all_groups_mean_per_template() -> None:
    rng = np.random.default_rng(0)
    phrases = {"a": ("a1", "a2"), "b": ("b1",), "c": ("c1", "c2")}
    sentences = probe_sentences(shipped_templates()[:5], phrases)
    sentences["score"] = rng.random(len(sentences))
    rows = {r.segment: r for r in gap_rows(sentences, column="review", replicates=200,
                                           seed=0, confidence=0.95, source="shipped")}
    hand = {}
    for g in phrases:
        per_template = []
        for t in range(5):
            here = sentences[sentences["template"] == t]
            group_means = {h: here.loc[here["group"] == h, "score"].mean() for h in phrases}
            per_template.append(group_means[g] - np.mean(list(group_means.values())))
        hand[g] = np.mean(per_template)
    for g, value in hand.items():
        row = rows[f"review_mentions={g}"]
        assert row.value == pytest.approx(value, abs=1e-12)
        assert row.ci_low <= row.value <= row.ci_high
        assert row.n == 5 * len(phrases[g])
    assert sum(hand.values()) == pytest.approx(0, abs=1e-12)


def test_a_template_without_exactly_one_slot_is_refused_with_its_line(tmp_path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("# mine\nA film about {identity}.\n\n{identity} and {identity}.\n")
    with pytest.raises(InputError, match=r"mine.txt, line 4: .*found 2"):
        read_templates(path)
    path.write_text("# nothing but comments\n")
    with pytest.raises(InputError, match="holds no templates"):
        read_templates(path)
    path.write_text("A film about {identity}.  # praise\n")
    assert [t.text for t in read_templates(path)] == ["A film about {identity}."]
