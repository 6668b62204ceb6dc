"""Drift of free-text input columns (dtype ``text``), by Evidently's own methods.

``drift.feature.<column>``: Evidently's text domain classifier (``evidently.legacy.utils.
data_drift_utils.calculate_text_drift_score``): reference texts labelled 0 and current
ones 1, split in halves (``random_state=42``), a TF-IDF vectoriser (sublinear tf,
``max_df=0.5``, English stop words) and an L1 ``SGDClassifier`` (modified Huber loss)
fitted on one half, the ROC AUC on the other. Evidently's default choice of test: with
more than 1,000 reference texts the AUC against the fixed threshold 0.55
(``abs_text_content_drift``); otherwise against the 95th percentile of the AUCs of 1,000
random scorers on the same test half (``perc_text_content_drift``). The details carry
the method, threshold, vectoriser and classifier, and the words that characterise each
side (Evidently's ``get_typical_words``: the classifier's largest weights).

``drift.embedding`` (segment ``column=<name>``): Evidently's embeddings drift by a
classifier (``embedding_drift_methods.ModelDriftMethod``, the default of
``EmbeddingsDriftMetric``: bootstrapped when the reference has under 1,000 rows) on the
sentence embeddings of the column's own encoder (``raigov.models.text.embed``: the
model's tokenizer folder), reference labelled 1 and current 0, an ``SGDClassifier``
(log loss) on one half, the ROC AUC on the other; drift above 0.55, or above the 95th
percentile of 100 random scorers when bootstrapped. At most ``max_rows`` rows of each
side are embedded (a seeded sample, said in details): the encoder is the cost.

Both score the same rows the same way as Evidently (tests compare with Evidently's own
calls); the random-scorer percentile is computed vectorised (ranks of the same seeded
draws), which is where Evidently spends its time on small windows.

Both rows also carry the ROC AUC's 95% interval (``ci_low``, ``ci_high``): a stratified
percentile bootstrap over the held-out half with the classifier's scores fixed (the
positives and the negatives resampled apart, each keeping its count: pROC's default for
an AUC's interval), 200 replicates, seeded per column. Evidently's verdict compares the
AUC itself with its cut, so on a window of 60 texts about one calm window in twenty is
"drifted"; a rule judged on the interval's favourable end (``judge: ci_bound``,
``bound: favourable``) fails only when the whole interval lies above the threshold,
which is what the shipped ``text-drift`` pack does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.monitors.base import MetricInfo, MetricRow

if TYPE_CHECKING:
    from raigov.models.spec import ColumnSpec
    from raigov.monitors.base import WindowData

TEXT_DRIFT_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("drift.embedding", "drift of a text column's sentence embeddings (the model's "
               "encoder) by Evidently's embeddings domain classifier: its ROC AUC (segment "
               "column=<name>)", False),
)
ABS_THRESHOLD = 0.55          # Evidently's abs_text_content_drift default
PERC_THRESHOLD = 0.95         # Evidently's perc_text_content_drift default
EXACT_LIMIT = 1000            # above: the absolute test (Evidently's _get_default_stattest)
EMBEDDING_THRESHOLD = 0.55
EMBEDDING_QUANTILE = 0.95
MIN_TEXTS = 2
AUC_REPLICATES = 200
AUC_CONFIDENCE = 0.95
TOO_FEW = "{side} has {n} present texts in column {column!r}; the test needs at least {need}"
VECTORISER = {"sublinear_tf": True, "max_df": 0.5, "stop_words": "english"}
CLASSIFIER = {"alpha": 0.0001, "max_iter": 50, "penalty": "l1", "loss": "modified_huber",
              "random_state": 42}


def _present(values: pd.Series) -> pd.Series:
    """Evidently drops missing values before testing; blank texts we drop too (the
    quality family counts them)."""
    clean = values.dropna().astype(str)
    return clean[clean.str.strip() != ""]


def text_drift(reference: pd.Series, current: pd.Series, *, words: int = 25,
               key: str = "text") -> dict[str, Any]:
    """Evidently's text domain-classifier drift of ``current`` against ``reference``:
    ``score`` (ROC AUC) with its interval (``ci_low``, ``ci_high``; ``key`` seeds its
    bootstrap), ``drifted``, ``method``, ``threshold`` and the typical words."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    texts = pd.concat([reference, current], ignore_index=False)
    target = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(current), dtype=int)]
    x_train, x_test, y_train, y_test = train_test_split(
        texts, pd.Series(target, index=texts.index), test_size=0.5, random_state=42,
        shuffle=True)
    pipeline = Pipeline([("vectorization", TfidfVectorizer(**VECTORISER)),
                         ("classification", SGDClassifier(**CLASSIFIER))])
    pipeline.fit(x_train, y_train)
    test_scores = pipeline.predict_proba(x_test)[:, 1]
    score = float(roc_auc_score(y_test, test_scores))
    low, high = auc_interval(np.asarray(y_test), test_scores, estimate=score, key=key)
    if len(reference) > EXACT_LIMIT:
        method, threshold, cut = "abs_text_content_drift", ABS_THRESHOLD, ABS_THRESHOLD
    else:
        method, threshold = "perc_text_content_drift", PERC_THRESHOLD
        cut = random_auc_percentile(np.asarray(y_test), 100 * PERC_THRESHOLD,
                                    seeds=_text_seeds())
    current_words, reference_words = _typical_words(pipeline, words)
    return {"score": score, "ci_low": low, "ci_high": high, "drifted": bool(score > cut),
            "method": method, "threshold": threshold, "auc_cut": float(cut),
            "vectoriser": f"TfidfVectorizer({VECTORISER})",
            "classifier": f"SGDClassifier({CLASSIFIER})",
            "current_words": current_words, "reference_words": reference_words}


def _text_seeds() -> list[int]:
    """The seeds of Evidently's 1,000 random scorers (roc_auc_random_classifier_percentile)."""
    np.random.seed(42)
    return np.random.randint(0, 10_000, size=1000).tolist()


def random_auc_percentile(y: np.ndarray, q: float, *, seeds: list[int]) -> float:
    """The ``q``-th percentile of the ROC AUCs of random scorers, scorer ``i`` drawing
    ``np.random.seed(seeds[i]); np.random.rand(len(y))`` as Evidently does; the AUCs
    from ranks (Mann-Whitney), all scorers at once."""
    draws = np.empty((len(seeds), len(y)))
    for i, seed in enumerate(seeds):
        np.random.seed(seed)
        draws[i] = np.random.rand(len(y))
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    ranks = draws.argsort(axis=1).argsort(axis=1) + 1.0   # continuous draws: no ties
    aucs = (ranks[:, positives].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(np.percentile(aucs, q))


def auc_interval(y: np.ndarray, scores: np.ndarray, *, estimate: float, key: str,
                 replicates: int = AUC_REPLICATES,
                 confidence: float = AUC_CONFIDENCE) -> tuple[float | None, float | None]:
    """The ROC AUC's stratified percentile bootstrap interval (label 1 positive), the
    scores fixed: each replicate draws ``n1`` positives and ``n0`` negatives with
    replacement; its AUC from average ranks (Mann-Whitney, ties half)."""
    from scipy.stats import rankdata

    from raigov.monitors.counts import make_rng, percentile_interval

    y = np.asarray(y)
    positives, negatives = scores[y == 1], scores[y != 1]
    n1, n0 = len(positives), len(negatives)
    if n1 == 0 or n0 == 0 or replicates == 0:
        return None, None
    rng = make_rng(0, f"drift_auc:{key}")
    drawn = np.concatenate([positives[rng.integers(0, n1, size=(replicates, n1))],
                            negatives[rng.integers(0, n0, size=(replicates, n0))]], axis=1)
    ranks = rankdata(drawn, axis=1)
    aucs = (ranks[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    low, high, _used = percentile_interval(aucs, estimate=estimate, confidence=confidence)
    return low, high


def _typical_words(pipeline: Any, words: int) -> tuple[list[str], list[str]]:
    """Evidently's get_typical_words: the vocabulary of the largest positive (current)
    and negative (reference) classifier weights, ordered as its pandas sort orders them
    (ties included)."""
    weights = pd.DataFrame({"weight": pipeline["classification"].coef_[0]})
    weights = weights[weights["weight"] != 0]
    vocabulary = pipeline["vectorization"].get_feature_names_out()
    current = weights[weights["weight"] > 0].sort_values("weight", ascending=False)
    reference = weights[weights["weight"] < 0].sort_values("weight", ascending=True)
    return ([str(vocabulary[i]) for i in current.index[:words]],
            [str(vocabulary[i]) for i in reference.index[:words]])


def embedding_drift(reference: np.ndarray, current: np.ndarray, *,
                    key: str = "embedding") -> dict[str, Any]:
    """Evidently's ModelDriftMethod (its EmbeddingsDriftMetric default) on two
    embedding matrices, with the AUC's interval as in :func:`text_drift`."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    ref = pd.DataFrame(reference)
    cur = pd.DataFrame(current)
    ref["target"], cur["target"] = 1, 0
    data = pd.concat((ref, cur))
    x_train, x_test, y_train, y_test = train_test_split(
        data.drop("target", axis=1), data["target"], test_size=0.5, random_state=42,
        shuffle=True)
    clf = SGDClassifier(loss="log_loss", random_state=42)
    clf.fit(x_train, y_train)
    test_scores = clf.predict_proba(x_test)[:, 1]
    score = float(roc_auc_score(y_test, test_scores))
    low, high = auc_interval(np.asarray(y_test), test_scores, estimate=score, key=key)
    bootstrap = len(reference) < EXACT_LIMIT
    if bootstrap:
        cut = random_auc_percentile(np.asarray(y_test), 100 * EMBEDDING_QUANTILE,
                                    seeds=list(range(100)))
    else:
        cut = EMBEDDING_THRESHOLD
    return {"score": score, "ci_low": low, "ci_high": high, "drifted": bool(score > cut),
            "method": "model",
            "bootstrap": bootstrap, "auc_cut": float(cut),
            "threshold": EMBEDDING_QUANTILE if bootstrap else EMBEDDING_THRESHOLD,
            "classifier": "SGDClassifier(loss='log_loss', random_state=42)"}


def _sample(texts: pd.Series, max_rows: int) -> pd.Series:
    return texts if len(texts) <= max_rows else texts.sample(max_rows, random_state=0)


def text_drift_rows(window: "WindowData", *, embeddings: bool = True,
                    max_rows: int = 2000) -> list[MetricRow]:
    from raigov.monitors.quality_text import text_columns

    rows: list[MetricRow] = []
    columns = text_columns(window)
    n = len(window.frame) if columns else 0   # (a window of no text column: rows unread)
    for column in columns:
        if column.name not in window.frame.columns or column.name not in window.reference:
            reason = f"column {column.name!r} is missing from the window or its reference"
            rows.append(MetricRow(f"drift.feature.{column.name}", None, n=0, status="error",
                                  details={"reason": reason}))
            continue
        reference = _present(window.reference[column.name])
        current = _present(window.frame[column.name])
        too_few = _too_few(reference, current, column)
        if too_few:
            rows.append(MetricRow(f"drift.feature.{column.name}", None, n=n,
                                  status="insufficient_data", details={"reason": too_few}))
            if embeddings:
                rows.append(MetricRow("drift.embedding", None, segment=f"column={column.name}",
                                      n=n, status="insufficient_data",
                                      details={"reason": too_few}))
            continue
        rows.append(_row(f"drift.feature.{column.name}", "all",
                         text_drift(reference, current, key=f"text:{column.name}"),
                         n=len(current), column=column))
        if embeddings:
            rows.append(embedding_row(column, _sample(reference, max_rows),
                                      _sample(current, max_rows)))
    return rows


def embedding_row(column: "ColumnSpec", reference: pd.Series, current: pd.Series) -> MetricRow:
    from raigov.models.text import embed

    ref = _reference_embeddings(column, tuple(reference.tolist()))
    cur = embed(column.tokenizer, current.tolist(), max_length=column.max_length)
    result = embedding_drift(ref, cur, key=f"embedding:{column.name}")
    result.update({"embedded_reference": len(reference), "embedded_current": len(current)})
    return _row("drift.embedding", f"column={column.name}", result, n=len(current),
                column=column)


@lru_cache(maxsize=4)
def _reference_embeddings(column: "ColumnSpec", texts: tuple[str, ...]) -> np.ndarray:
    """The reference side, embedded once per process: every window of a version
    compares with the same reference texts (the demo's monitor stage runs 30)."""
    from raigov.models.text import embed

    out = embed(column.tokenizer, list(texts), max_length=column.max_length)
    out.setflags(write=False)
    return out


def _too_few(reference: pd.Series, current: pd.Series, column: "ColumnSpec") -> str | None:
    for side, texts in (("the reference", reference), ("the window", current)):
        if len(texts) < MIN_TEXTS:
            return TOO_FEW.format(side=side, n=len(texts), column=column.name, need=MIN_TEXTS)
    return None


def _row(metric: str, segment: str, result: dict[str, Any], *, n: int,
         column: "ColumnSpec") -> MetricRow:
    score, low, high = result.pop("score"), result.pop("ci_low"), result.pop("ci_high")
    return MetricRow(metric, score, segment=segment, n=n, ci_low=low, ci_high=high,
                     details={**result, "column": column.name, "stattest": result["method"],
                              "kind": "text", "encoder": column.tokenizer,
                              "ci_method": "stratified bootstrap of the held-out half",
                              "confidence": AUC_CONFIDENCE,
                              "bootstrap_replicates": AUC_REPLICATES})
