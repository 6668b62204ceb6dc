"""Saving and loading model artifacts: identical predictions after a round trip, the
architecture registry, clear errors naming the file, thread-safe inference."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from raigov.models.artifact import (ARCHITECTURE_FILE, ARCHITECTURES, MSG_NOT_A_MODULE, PREPROCESS_FILE,
                             WEIGHTS_FILE,
                             LoadedModel, load_artifact, register_architecture, save_artifact)
from raigov.models.demo_models import build_demo_model
from raigov.models.tabular import TrainedModel, sigmoid
from raigov.errors import ConfigError

Credit = tuple[TrainedModel, pd.DataFrame]  # the trained model and its held-out rows


@pytest.fixture(scope="module")
def credit() -> Credit:
    torch.set_num_threads(1)
    demo = build_demo_model("credit-risk", seed=0)
    return demo.trained, demo.heldout


@pytest.fixture
def saved(tmp_path: Path, credit: Credit) -> Path:
    return save_artifact(tmp_path / "artifact", credit[0])


def test_round_trip_gives_identical_predict_proba(saved: Path, credit: Credit) -> None:
    trained, rows = credit
    loaded = load_artifact(saved, device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(rows), trained.predict_proba(rows))


def test_artifact_holds_weights_architecture_and_preprocessing(saved: Path,
                                                               credit: Credit) -> None:
    assert sorted(p.name for p in saved.iterdir()) == sorted(
        [WEIGHTS_FILE, ARCHITECTURE_FILE, PREPROCESS_FILE])
    arch = json.loads((saved / ARCHITECTURE_FILE).read_text())
    assert arch["name"] == "tabular_mlp"
    assert arch["params"]["n_inputs"] == len(credit[0].preprocessor.encoded_names)
    state = torch.load(saved / WEIGHTS_FILE, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_loaded_model_is_in_eval_mode_on_the_default_device(saved: Path) -> None:
    loaded = load_artifact(saved)
    assert loaded.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert not loaded.module.training
    assert next(loaded.module.parameters()).device.type == loaded.device


def test_predict_proba_returns_float64_probabilities_one_per_row(saved: Path,
                                                                 credit: Credit) -> None:
    loaded = load_artifact(saved, device="cpu")
    scores = loaded.predict_proba(credit[1].head(7))
    assert scores.dtype == np.float64 and scores.shape == (7,)
    assert ((scores > 0) & (scores < 1)).all()


def test_logits_encoded_give_the_scores_through_the_sigmoid(saved: Path, credit: Credit) -> None:
    loaded = load_artifact(saved, device="cpu")
    rows = credit[1].head(20)
    logits = loaded.logits_encoded(loaded.preprocessor.transform(rows))
    np.testing.assert_allclose(sigmoid(logits), loaded.predict_proba(rows), rtol=1e-12)


def test_predict_proba_is_safe_from_several_threads(saved: Path, credit: Credit) -> None:
    loaded = load_artifact(saved, device="cpu")
    rows = credit[1]
    expected = loaded.predict_proba(rows)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: loaded.predict_proba(rows), range(16)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("missing", [WEIGHTS_FILE, ARCHITECTURE_FILE, PREPROCESS_FILE])
def test_missing_artifact_file_raises_config_error_naming_the_file(saved: Path,
                                                                   missing: str) -> None:
    (saved / missing).unlink()
    with pytest.raises(ConfigError, match=f"file .*{missing} is missing"):
        load_artifact(saved)


def test_unknown_architecture_raises_config_error_with_close_match(saved: Path) -> None:
    (saved / ARCHITECTURE_FILE).write_text(json.dumps({"name": "tabular_mpl", "params": {}}))
    with pytest.raises(ConfigError) as err:
        load_artifact(saved)
    message = str(err.value)
    assert "Unknown architecture 'tabular_mpl'" in message
    assert ARCHITECTURE_FILE in message and "Did you mean 'tabular_mlp'?" in message


def test_weights_that_do_not_fit_the_architecture_raise_config_error(saved: Path) -> None:
    arch = json.loads((saved / ARCHITECTURE_FILE).read_text())
    arch["params"]["hidden"] = [16]
    (saved / ARCHITECTURE_FILE).write_text(json.dumps(arch))
    with pytest.raises(ConfigError, match=f"{WEIGHTS_FILE} does not fit architecture"):
        load_artifact(saved)


def test_broken_json_raises_config_error_naming_the_file(saved: Path) -> None:
    (saved / PREPROCESS_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match=f"{PREPROCESS_FILE} is not valid JSON"):
        load_artifact(saved)


class _LinearScorer(nn.Module):
    """A user's own architecture: logistic regression on the encoded columns."""

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def test_a_user_architecture_goes_through_the_same_registry(tmp_path: Path,
                                                            credit: Credit) -> None:
    preprocessor, rows = credit[0].preprocessor, credit[1]
    module = _LinearScorer(len(preprocessor.encoded_names)).eval()
    with ARCHITECTURES.overriding():
        register_architecture("linear_scorer", _LinearScorer)
        trained = TrainedModel(preprocessor, module, "linear_scorer",
                               {"n_inputs": len(preprocessor.encoded_names)})
        loaded = load_artifact(save_artifact(tmp_path / "a", trained), device="cpu")
        assert isinstance(loaded, LoadedModel) and isinstance(loaded.module, _LinearScorer)
        assert not loaded.deep_exact     # DeepExplainer is exact only on TabularMLP
        np.testing.assert_array_equal(loaded.predict_proba(rows), trained.predict_proba(rows))
    assert "linear_scorer" not in ARCHITECTURES
    assert ARCHITECTURES["tabular_mlp"].__name__ == "TabularMLP"


def test_saving_an_unregistered_architecture_raises_config_error(tmp_path: Path,
                                                                 credit: Credit) -> None:
    trained = TrainedModel(credit[0].preprocessor, _LinearScorer(3), "linear_scorer", {})
    with pytest.raises(ConfigError, match=r"'linear_scorer' .* not registered"):
        save_artifact(tmp_path / "a", trained)


def test_registering_something_that_is_not_a_module_raises_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        register_architecture("not_a_module", dict)  # type: ignore[arg-type]
    assert str(err.value) == MSG_NOT_A_MODULE.format(name="not_a_module", cls=dict)
    assert "not_a_module" not in ARCHITECTURES

