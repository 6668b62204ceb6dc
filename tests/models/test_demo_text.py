"""The review-sentiment head: seeded (two trainings equal), trained on the frozen
encoder's cached embeddings (the cache returns the encoder's own output, read without
pickle), and better than chance on held-out reviews, by scikit-learn's AUC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from raigov.models import demo_text
from raigov.models.text import embed


def test_head_is_seeded_cached_and_learns(tmp_path) -> None:
    train, test = demo_text.split(demo_text.reviews(), n_train=240, n_test=120)
    e_train = demo_text.embeddings_cache(train["text"].tolist(), tmp_path)
    again = demo_text.embeddings_cache(train["text"].tolist(), tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 1 and np.array_equal(e_train, again)
    direct = embed(demo_text.ENCODER, train["text"].iloc[:8].tolist(),
                   max_length=demo_text.MAX_LENGTH)
    assert np.abs(direct - e_train[:8]).max() < 1e-5
    y = train["fresh"].to_numpy()
    one, two = demo_text.train_head(e_train, y), demo_text.train_head(e_train, y)
    assert np.array_equal(one.weight, two.weight) and one.bias == two.bias
    e_test = demo_text.embeddings_cache(test["text"].tolist(), tmp_path)
    assert roc_auc_score(test["fresh"], one.logits(e_test)) > 0.7
    assert set(train.index) and not set(train["text"]) & set(test["text"])
