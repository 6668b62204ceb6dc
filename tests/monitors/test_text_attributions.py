"""Token attributions of the review-sentiment head (frozen MiniLM + logistic head):
integrated gradients on the embedding layer (Captum's LayerIntegratedGradients) whose
attributions sum to the logit's change within 1e-2 for every explained row, the logit
equal to the one the served forward pass computes; and ``raigov explain`` on a captured
text prediction prints its tokens with attributions, the text escaped, in 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raigov.home import Home
from raigov.models import demo_text
from raigov.models.artifacts.load import load_model
from raigov.models.artifacts.text_head import save_text_head
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.monitors.attribution_tokens import attribute_texts

ROOT = Path(__file__).parents[2]
SPEC = ModelSpec(name="review-sentiment", classes=("0", "1"), features=("review",),
                 inputs=InputSchema(columns=(ColumnSpec(
                     name="review", dtype="text", tokenizer=demo_text.ENCODER,
                     max_length=128),)))


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    train, _ = demo_text.split(demo_text.reviews(), n_train=240, n_test=120)
    head = demo_text.train_head(demo_text.embeddings_cache(train["text"].tolist()),
                                train["fresh"].to_numpy())
    return save_text_head(tmp_path_factory.mktemp("head"), weight=head.weight,
                          bias=head.bias, encoder=demo_text.ENCODER, column="review",
                          max_length=128)


def test_attributions_sum_to_the_logit_within_1e_2_for_every_row(artifact: Path) -> None:
    from transformers import AutoTokenizer

    from raigov.models.text import tokenizer_folder

    model = load_model(artifact, SPEC, device="cpu")
    texts = demo_text.reviews()["text"].iloc[[5, 77]].tolist()
    found = attribute_texts(model, texts)
    served = model.forward(pd.DataFrame({"review": texts})).reshape(-1)   # [N, 1] logits
    direct = AutoTokenizer.from_pretrained(str(tokenizer_folder(demo_text.ENCODER)))
    for text, one, logit in zip(texts, found, served):
        assert one.completeness_error < 1e-2
        assert abs(one.baseline_logit + one.attributions.sum() - one.logit) < 1e-2
        assert one.logit == pytest.approx(logit, abs=1e-4)     # the served forward pass
        assert one.tokens == ["[CLS]", *direct.tokenize(text)[:126], "[SEP]"]
        assert one.attributions[0] == 0 and one.attributions[-1] == 0   # kept in baseline


def test_raigov_explain_prints_a_text_decisions_tokens_escaped(tmp_path: Path,
                                                              artifact: Path) -> None:
    from raigov.models.capture.logger import PredictionLogger
    from raigov.models.registration import register_model_files

    home = Home.resolve(tmp_path / "home").ensure()
    reference = pd.DataFrame({"review": ["a fine film", "a dull film"], "label": [1, 0]})
    register_model_files(home, SPEC, artifact=artifact, reference=reference)
    text = "<b>Superb</b> and \x1b[31mmoving\x1b[0m, a joy."
    logit = float(load_model(artifact, SPEC, device="cpu").forward(
        pd.DataFrame({"review": [text]})).reshape(-1)[0])
    with PredictionLogger(SPEC.name, home=home) as log:
        [pid] = log.log_predictions([{"review": text}], labels=[int(logit >= 0)],
                                    scores=[1 / (1 + np.exp(-logit))]).prediction_ids
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    shown = subprocess.run([sys.executable, "-m", "raigov.cli", "explain", "--model",
                            SPEC.name, "--prediction-id", pid, "--home", str(home.root)],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "\x1b" not in out and "\\x1b[31mmoving" in out      # escaped, not interpreted
    assert "<b>Superb</b>" in out                              # shown as text
    assert "superb +" in out or "superb -" in out              # a token with its value
    assert max(map(len, out.splitlines())) <= 80
    error = float(out.split("= ")[-1].split(" ")[0])
    assert error < 1e-2
