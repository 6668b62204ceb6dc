"""A small text model's home on the user's path, for the token-attribution tests: the
review-sentiment head (frozen MiniLM + logistic head) trained on a seeded slice of the
vendored reviews, written as a ``text_head`` artifact, registered with
``register_model_files`` (the call behind ``raigov models register``), a handful of
short texts logged through the Python logger, and the explain family run by the
runner (``raigov monitor run``'s ``run_monitors``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from raigov.home import Home
from raigov.models import demo_text
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec, MonitoringConfig

MODEL = "review-tokens"
FEMALE_TERMS = ("woman", "women", "actress")
#: Short texts (few tokens: integrated gradients costs per token); ``mentions`` is the
#: declared sensitive attribute, the ``female`` identity group comes from the text.
TEXTS = [("A superb film, superb acting.", "none"),
         ("The women in this film are superb.", "women"),
         ("A dull and tedious film.", "none"),
         ("The actress is wonderful, unbelievably good.", "women"),
         ("Dull, dull, dull.", "none"),
         ("<script>alert(1)</script> dull", "none")]
HOSTILE = TEXTS[-1][0]


def spec(*, token_sample: int) -> ModelSpec:
    return ModelSpec(
        name=MODEL, classes=("0", "1"), features=("review",), sensitive=("mentions",),
        inputs=InputSchema(columns=(
            ColumnSpec(name="review", dtype="text", tokenizer=demo_text.ENCODER,
                       max_length=64, identity_terms={"female": FEMALE_TERMS}),
            ColumnSpec(name="mentions", dtype="str", allowed=("women", "none")))),
        monitoring=MonitoringConfig(token_sample=token_sample, bootstrap=20, min_group_size=2))


def train_artifact(directory: Path) -> Path:
    from raigov.models.artifacts.text_head import save_text_head

    train, _ = demo_text.split(demo_text.reviews(), n_train=240, n_test=120)
    head = demo_text.train_head(demo_text.embeddings_cache(train["text"].tolist()),
                                train["fresh"].to_numpy())
    return save_text_head(directory, weight=head.weight, bias=head.bias,
                          encoder=demo_text.ENCODER, column="review", max_length=64)


def make_home(root: Path, artifact: Path, *, token_sample: int) -> tuple[Home, list[str]]:
    """The home with the model registered, :data:`TEXTS` logged and the explain family
    run; returns it and the prediction ids, in :data:`TEXTS` order."""
    from raigov.models.artifacts.load import load_model
    from raigov.models.capture.logger import PredictionLogger
    from raigov.models.registration import register_model_files
    from raigov.monitors.runner import run_monitors

    home = Home.resolve(root).ensure()
    model_spec = spec(token_sample=token_sample)
    reference = pd.DataFrame({"review": ["a fine film", "a dull film"],
                              "mentions": ["none", "none"], "label": [1, 0]})
    register_model_files(home, model_spec, artifact=artifact, reference=reference)
    rows = [{"review": t, "mentions": m} for t, m in TEXTS]
    logits = load_model(artifact, model_spec, device="cpu").forward(
        pd.DataFrame(rows)).reshape(-1)
    with PredictionLogger(MODEL, home=home) as log:
        ids = log.log_predictions(rows, labels=(logits >= 0).astype(int).tolist(),
                                  scores=(1 / (1 + np.exp(-logits))).tolist()).prediction_ids
    run_monitors(home, model=MODEL, families=("explain",))
    return home, list(ids)
