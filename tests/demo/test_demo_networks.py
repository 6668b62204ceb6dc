"""The demo's regression and multiclass networks on Adult: seeded training, exported
programs equal to the eager module, test figures next to scikit-learn's gradient-boosted
trees on the same split (and the README's table showing them), and registration
through the files and the call a user's own model takes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from raigov.home import Home
from raigov.models.demo_models import (DEMO_MODELS, DemoModel, build_demo_model, demo_spec,
                                       label_values, with_truth, write_model_files)
from raigov.models.demo_networks import NetworkConfig, as_sent, train_network

NETWORKS = ("hours-estimator", "job-sector")
ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
SAMPLE = 3000


@pytest.fixture(scope="module", params=NETWORKS)
def demo(request: pytest.FixtureRequest) -> DemoModel:
    return build_demo_model(request.param, seed=0)


def _sample(demo: DemoModel, n: int = SAMPLE) -> pd.DataFrame:
    return demo.heldout.sample(n=n, random_state=1).reset_index(drop=True)


def test_the_same_seed_trains_the_same_weights_and_another_seed_does_not(demo) -> None:
    definition = demo.definition
    train, _, full = definition.split(0)
    spec = demo_spec(definition, full)
    rows = with_truth(train, train[definition.label], spec).head(4000)
    config = NetworkConfig(loss=definition.training["loss"], epochs=3)
    first, again, other = (train_network(rows, spec=spec, seed=s, config=config)
                           for s in (0, 0, 1))
    for (name, a), (_, b) in zip(first.module.state_dict().items(),
                                 again.module.state_dict().items()):
        assert torch.equal(a, b), name
    held = _sample(demo, 500)
    np.testing.assert_array_equal(first.forward(held), again.forward(held))
    assert not np.allclose(first.forward(held), other.forward(held))


def test_the_exported_program_answers_as_the_eager_module(demo, tmp_path) -> None:
    from raigov.models.artifacts.load import load_model

    rows = _sample(demo)
    path = demo.trained.export(tmp_path)
    program = torch.export.load(str(path)).module()
    x = torch.from_numpy(demo.trained.encode(rows))
    with torch.inference_mode():
        eager, exported = demo.trained.module(x), program(x)
    assert torch.equal(eager, exported)
    loaded = load_model(tmp_path, demo.spec, device="cpu")   # raigov's own loader
    assert loaded.format == "export"
    np.testing.assert_allclose(loaded.forward(as_sent(rows[list(demo.spec.features)])),
                               demo.trained.forward(rows), rtol=0, atol=1e-6)


def test_the_network_reads_the_contract_tensor_and_copes_with_nulls(demo) -> None:
    """Categories are their index in ``allowed``, nulls NaN; a null gives a finite
    answer (the training mean for a number, an all-zero one-hot for a category)."""
    rows = _sample(demo, 50)
    x = demo.trained.encode(rows)
    for j, name in enumerate(demo.spec.features):
        allowed = demo.spec.inputs.column(name).allowed
        expected = [np.nan if v is None or v != v else
                    (allowed.index(v) if allowed else float(v))
                    for v in as_sent(rows)[name].tolist()]
        np.testing.assert_array_equal(x[:, j], np.asarray(expected, dtype=np.float32))
    blank = torch.full((3, len(demo.spec.features)), float("nan"))
    with torch.inference_mode():
        assert torch.isfinite(demo.trained.module(blank)).all()


def _baseline(name: str) -> dict[str, float]:
    """scikit-learn's HistGradientBoosting on the same features and split."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error,
                                 mean_squared_error, r2_score)

    definition = DEMO_MODELS[name]
    train, test, full = definition.split(0)
    text = [f for f in definition.features if not pd.api.types.is_numeric_dtype(full[f])]

    def frame(df: pd.DataFrame) -> pd.DataFrame:
        out = df[list(definition.features)].copy()
        for c in text:
            out[c] = pd.Categorical(out[c].astype(object),
                                    categories=sorted(full[c].dropna().unique()))
        return out

    y_train, y_test = train[definition.label].to_numpy(), test[definition.label].to_numpy()
    if name == "hours-estimator":
        model = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
        p = model.fit(frame(train), y_train.astype(float)).predict(frame(test))
        return {"mae": mean_absolute_error(y_test, p), "r2": r2_score(y_test, p),
                "rmse": float(np.sqrt(mean_squared_error(y_test, p)))}
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    p = model.fit(frame(train), y_train).predict(frame(test))
    return {"accuracy": accuracy_score(y_test, p), "f1_macro": f1_score(y_test, p, average="macro")}


def _own_figures(demo: DemoModel) -> dict[str, float]:
    """The network's figures recomputed here from the eager module's raw output."""
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

    raw = demo.trained.forward(demo.heldout)
    y = demo.heldout["y_true"].to_numpy()
    if raw.shape[1] == 1:
        return {"mae": mean_absolute_error(y, raw[:, 0]), "r2": r2_score(y, raw[:, 0])}
    label = raw.argmax(axis=1)
    return {"accuracy": accuracy_score(y, label), "f1_macro": f1_score(y, label, average="macro")}


def _readme_row(name: str) -> list[str]:
    row = next(line for line in README.read_text().splitlines()
               if line.startswith(f"| `{name}` |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


@pytest.mark.slow
def test_the_test_figures_are_near_gradient_boosting_and_are_the_readmes(demo) -> None:
    own = _own_figures(demo)
    assert demo.test_metrics == pytest.approx({**demo.test_metrics, **own}, abs=1e-12)
    base = _baseline(demo.spec.name)
    cells = _readme_row(demo.spec.name)
    if "mae" in own:
        assert own["mae"] <= 1.05 * base["mae"] and own["r2"] >= base["r2"] - 0.03
        figures = [own["mae"], own["r2"], base["mae"], base["r2"]]
    else:
        assert own["accuracy"] >= base["accuracy"] - 0.02
        assert own["f1_macro"] >= base["f1_macro"] - 0.03
        figures = [own["accuracy"], own["f1_macro"], base["accuracy"], base["f1_macro"]]
    numbers = [float(n) for n in re.findall(r"\d+\.\d{3}", " ".join(cells[3:]))]
    # The README rounds to 3 places; training on another CPU (other SIMD kernels) moves
    # the figures by ~1e-4, which can flip the last printed digit: within 1e-3 holds.
    assert len(numbers) == len(figures), cells
    assert numbers == pytest.approx(figures, abs=1e-3), (cells, figures)


def test_the_model_files_are_what_register_takes_and_round_trip(demo, tmp_path) -> None:
    from raigov.models.registration import register_model_files
    from raigov.models.spec_file import load_spec_file

    reference = demo.reference.head(400)
    files = write_model_files(tmp_path / "files", trainer=demo.definition.trainer,
                              trained=demo.trained, spec=demo.spec, reference=reference)
    assert load_spec_file(files.spec) == demo.spec
    stored = pd.read_parquet(files.reference)
    assert stored[demo.spec.label_name].tolist() == label_values(
        reference["y_true"].to_numpy(), demo.spec)
    home = Home.resolve(tmp_path / "home")
    home.ensure()
    registered = register_model_files(home, files.spec, artifact=files.artifact,
                                      reference=files.reference, actor="test", device="cpu")
    assert registered.artifact_format == "export" and registered.version == 1
    ref = registered.load_reference()
    np.testing.assert_array_equal(ref["y_true"].to_numpy(), reference["y_true"].to_numpy())
    for column in set(ref.columns) & {"value", "score", "label"}:   # computed by raigov
        np.testing.assert_allclose(ref[column].to_numpy(dtype=float),
                                   reference[column].to_numpy(dtype=float), atol=1e-6)
    if "probabilities" in ref.columns:
        np.testing.assert_allclose(np.stack(ref["probabilities"].to_numpy()),
                                   np.stack(reference["probabilities"].to_numpy()), atol=1e-6)


@pytest.mark.slow
def test_the_cli_registers_the_same_files(demo, tmp_path) -> None:
    files = write_model_files(tmp_path / "files", trainer=demo.definition.trainer,
                              trained=demo.trained, spec=demo.spec,
                              reference=demo.reference.head(200))
    done = subprocess.run([sys.executable, "-m", "raigov.cli", "models", "register",
                           "--spec", str(files.spec), "--artifact", str(files.artifact),
                           "--reference", str(files.reference),
                           "--home", str(tmp_path / "home")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert demo.spec.name in done.stdout + done.stderr
