"""Rule type ``reference_band`` on a real reference: Adult rows registered as an
external model in a real home. Chunk values are checked against pandas on the same
rows, the band against numpy, and the cache against its file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from raigov.home import Home
from raigov.monitors import reference_chunks
from raigov.monitors.base import MetricRow
from raigov.monitors.reference_chunks import ReferenceChunks, cache_path
from raigov.policies.evaluate import evaluate
from raigov.policies.load_errors import PolicyError
from raigov.policies.loader import load_policy
from raigov.policies.reference_band import (CHUNKS_AND_SIZE, MARGIN_WITH_STD, NEEDS_MARGIN,
                                            NO_REFERENCE)
from tests.monitors.drift_fixtures import adult_predictions, adult_spec

MODEL = "adult-income"
REFERENCE_ROWS = 3000
HEAD = """policy: bands
version: 1
applies_to: {models: [adult-income]}
rules:
"""


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Home, "object"]:
    from raigov.models.registry import register_model

    home = Home.resolve(tmp_path / "home").ensure()
    reference = adult_predictions().head(REFERENCE_ROWS).drop(columns=["prediction_id", "ts"])
    spec = adult_spec().model_copy(update={"name": MODEL})
    register_model(home, spec, artifact=None, reference=reference)
    return home, reference


def _policy(tmp_path: Path, rule: str):
    path = tmp_path / "bands.yaml"
    path.write_text(HEAD + rule)
    return load_policy(path)


def _judge(policy, home: Home, value: float, *, segment: str = "column=workclass"):
    row = MetricRow("quality.missing_rate", value, segment=segment, n=500)
    [finding] = evaluate([policy], [row], model=MODEL, version=1, window_start=None,
                         window_end=None, today=dt.date(2026, 12, 1),
                         reference=ReferenceChunks(home, MODEL, 1))
    return finding


def _hand_chunks(reference, column: str, chunks: int) -> np.ndarray:
    size = len(reference) // chunks
    return np.array([reference[column].iloc[i * size:(i + 1) * size].isna().mean()
                     for i in range(chunks)])


def test_chunk_values_are_the_missing_rates_of_consecutive_reference_chunks(registered) -> None:
    home, reference = registered
    values, size = ReferenceChunks(home, MODEL, 1).chunk_values(
        "quality.missing_rate", "column=workclass", chunks=10)
    assert size == 300
    hand = _hand_chunks(reference, "workclass", 10)
    assert hand.std() > 0   # Adult's workclass is missing at its own, varying rate
    np.testing.assert_allclose(values, hand, rtol=0, atol=1e-12)


def test_a_std_band_is_mean_plus_minus_k_std_of_the_chunk_values(registered, tmp_path) -> None:
    home, reference = registered
    hand = _hand_chunks(reference, "workclass", 10)
    high = hand.mean() + 2 * hand.std()
    policy = _policy(tmp_path, """  - id: missing-band
    type: reference_band
    metric: quality.missing_rate
    segment: column=workclass
    k: 2
    side: upper
    chunks: 10
""")
    inside, outside = _judge(policy, home, high - 1e-6), _judge(policy, home, high + 1e-6)
    assert (inside.status, outside.status) == ("pass", "fail")
    assert f"[-inf, {high:.4g}]" in outside.reason
    assert f"mean {hand.mean():.4g} ± 2 × std {hand.std():.4g} over 10 reference chunks of " \
           "300 rows" in outside.reason
    assert outside.reason.startswith("quality.missing_rate [column=workclass] = ")


def test_a_relative_band_on_the_lower_side_and_a_floor_that_widens_a_zero_band(
        registered, tmp_path) -> None:
    home, reference = registered
    hand = _hand_chunks(reference, "workclass", 6)
    low = hand.mean() * (1 - 0.25)
    policy = _policy(tmp_path, """  - id: relative-band
    type: reference_band
    metric: quality.missing_rate
    segment: column=workclass
    method: relative
    margin: 0.25
    side: lower
    chunks: 6
  - id: never-missing
    type: reference_band
    metric: quality.missing_rate
    segment: column=age
    side: upper
    floor: 0.02
""")
    findings = evaluate([policy], [
        MetricRow("quality.missing_rate", low - 1e-6, segment="column=workclass", n=500),
        MetricRow("quality.missing_rate", 0.019, segment="column=age", n=500)],
        model=MODEL, version=1, window_start=None, window_end=None,
        reference=ReferenceChunks(home, MODEL, 1))
    assert [f.status for f in findings] == ["fail", "pass"]
    assert f"[{low:.4g}, inf]" in findings[0].reason and "± 25%" in findings[0].reason
    assert reference["age"].isna().sum() == 0   # a band of width zero: the floor holds it
    assert "[-inf, 0.02]" in findings[1].reason and "clamped to [0.02, inf]" in findings[1].reason


def test_too_few_chunks_or_no_reference_is_insufficient_data(registered, tmp_path) -> None:
    home, _ = registered
    policy = _policy(tmp_path, """  - id: big-chunks
    type: reference_band
    metric: quality.missing_rate
    segment: column=workclass
    chunk_size: 1000
    min_chunks: 5
""")
    finding = _judge(policy, home, 0.05)
    assert finding.status == "insufficient_data"
    assert "the reference gave 3 chunk value(s) of 1000 rows, fewer than min_chunks 5" \
        in finding.reason
    [alone] = evaluate([policy], [MetricRow("quality.missing_rate", 0.05,
                                            segment="column=workclass", n=500)],
                       model=MODEL, version=None, window_start=None, window_end=None)
    assert alone.status == "insufficient_data"
    assert alone.reason == NO_REFERENCE.format(metric="quality.missing_rate",
                                               segment="column=workclass")


def test_the_chunk_values_are_cached_once_reused_and_rebuilt_for_a_new_format(
        registered, monkeypatch) -> None:
    home, reference = registered
    path = cache_path(home, MODEL, 1)
    assert not path.exists()
    first, _ = ReferenceChunks(home, MODEL, 1).chunk_values(
        "quality.missing_rate", "column=workclass", chunks=10)
    assert path.is_file() and home.cache in path.parents
    assert not (home.artifacts / MODEL / "1" / path.name).exists()
    cached = json.loads(path.read_text())   # plain JSON
    key = "quality.missing_rate|column=workclass"
    assert cached["entries"]["quality:300"]["values"][key] == first
    cached["entries"]["quality:300"]["values"][key] = [0.5] * 10   # mark it
    path.write_text(json.dumps(cached))
    reused, _ = ReferenceChunks(home, MODEL, 1).chunk_values(
        "quality.missing_rate", "column=workclass", chunks=10)
    assert reused == [0.5] * 10   # read back, not recomputed
    monkeypatch.setattr(reference_chunks, "CACHE_VERSION", reference_chunks.CACHE_VERSION + 1)
    rebuilt, _ = ReferenceChunks(home, MODEL, 1).chunk_values(
        "quality.missing_rate", "column=workclass", chunks=10)
    assert rebuilt == first
    assert json.loads(path.read_text())["format"] == reference_chunks.CACHE_VERSION


@pytest.mark.parametrize(("extra", "message"), [
    ("    method: relative\n", NEEDS_MARGIN),
    ("    margin: 0.1\n", MARGIN_WITH_STD),
    ("    chunks: 10\n    chunk_size: 100\n", CHUNKS_AND_SIZE),
])
def test_a_band_rule_with_contradicting_parameters_is_refused_with_its_line(
        tmp_path, extra: str, message: str) -> None:
    path = tmp_path / "bands.yaml"
    path.write_text(HEAD + "  - id: bad-band\n    type: reference_band\n"
                    "    metric: quality.missing_rate\n" + extra)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    [problem] = caught.value.problems
    assert message in problem.message and str(path) in problem.message
    assert problem.line >= 5
