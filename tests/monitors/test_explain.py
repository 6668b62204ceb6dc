"""ExplainMonitor and the SHAP helpers on the real demo models: additivity in logit space
for every explained row, per-feature sums that keep it, importance checked against
models whose answer is known without SHAP (a zeroed input, a linear model), attribution
shift, per-group rows and the single-prediction explanation."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from raigov.models.artifact import load_artifact, register_architecture, save_artifact
from raigov.models.demo_models import DemoModel, build_demo_model
from raigov.models.tabular import TabularMLP, TrainedModel
from raigov.monitors.base import MONITORS, MetricRow, WindowData
from raigov.monitors.catalog import metric_info
from raigov.monitors.explain import (EXPLAINER_UNAVAILABLE, NO_ARTIFACT, UNSUPPORTED_OUTPUT_KIND,
                              ExplainMonitor, spearman)
from raigov.monitors import shap_explainer
from raigov.monitors.shap_explainer import (ADDITIVITY_TOLERANCE, FittedExplainer, build_explainer,
                                     clear_explainer_cache, explain_prediction, explain_rows)
from raigov.errors import ConfigError

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
BACKGROUND = 100
SAMPLE = 100


@dataclasses.dataclass(frozen=True)
class Saved:
    demo: DemoModel
    artifact: Path


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    clear_explainer_cache()


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    demo = build_demo_model("credit-risk", seed=0)
    return Saved(demo, save_artifact(tmp_path_factory.mktemp("credit"), demo.trained))


@pytest.fixture(scope="module")
def income(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    demo = build_demo_model("income-classifier", seed=0)
    return Saved(demo, save_artifact(tmp_path_factory.mktemp("income"), demo.trained))


def window(saved: Saved, frame: pd.DataFrame, *, artifact: Path | None = None) -> WindowData:
    return WindowData(spec=saved.demo.spec, version=1, start=START,
                      end=START + dt.timedelta(days=1), frame=frame,
                      reference=saved.demo.reference, artifact_dir=artifact or saved.artifact)


def monitor(**kwargs: object) -> ExplainMonitor:
    return ExplainMonitor(**{"background_size": BACKGROUND, "sample_size": SAMPLE,
                             "bootstrap": 100, **kwargs})


def by_key(rows: list[MetricRow]) -> dict[tuple[str, str], MetricRow]:
    return {(row.metric, row.segment): row for row in rows}


def module_logits(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x)).double().numpy().ravel()


def encoded_columns_of(feature: str, names: tuple[str, ...]) -> list[int]:
    """An encoded column belongs to ``feature`` when its name is the feature, or the
    feature followed by '=' (a category) or '__' (missing indicator, bin)."""
    return [k for k, name in enumerate(names)
            if name == feature or name.startswith((f"{feature}=", f"{feature}__"))]


def save_variant(saved: Saved, module: nn.Module, directory: Path, *,
                 architecture: str = "tabular_mlp") -> Path:
    params = dict(getattr(module, "params", {}))
    trained = TrainedModel(saved.demo.trained.preprocessor, module, architecture, params)
    return save_artifact(directory, trained)


@pytest.mark.parametrize("name", ["credit", "income"])
def test_shap_values_add_up_to_the_logit_for_every_explained_row(
        name: str, request: pytest.FixtureRequest) -> None:
    saved: Saved = request.getfixturevalue(name)
    loaded = load_artifact(saved.artifact, device="cpu")
    fitted = build_explainer(loaded, saved.demo.reference, seed=0, background_size=BACKGROUND)
    rows = saved.demo.heldout.sample(n=SAMPLE, random_state=1)
    explanation = explain_rows(fitted, loaded, rows)
    logits = module_logits(saved.demo.trained.module,
                           saved.demo.trained.preprocessor.transform(rows))
    errors = np.abs(explanation.base_value + explanation.values.sum(axis=1) - logits)
    assert explanation.values.shape == (SAMPLE, len(saved.demo.spec.features))
    assert errors.max() < ADDITIVITY_TOLERANCE
    assert explanation.max_additivity_error == pytest.approx(errors.max(), abs=1e-6)
    assert explanation.output == "logit" and explanation.additive


def test_the_base_value_is_the_mean_logit_of_the_background(credit: Saved) -> None:
    reference = credit.demo.reference  # 700 rows: all of them are the background
    loaded = load_artifact(credit.artifact, device="cpu")
    fitted = build_explainer(loaded, reference, seed=0, background_size=len(reference))
    explanation = explain_rows(fitted, loaded, credit.demo.heldout.head(3))
    score = reference["score"].to_numpy()
    assert fitted.background_size == len(reference)
    assert explanation.base_value == pytest.approx(np.log(score / (1 - score)).mean(), abs=1e-4)
    assert explanation.max_additivity_error < ADDITIVITY_TOLERANCE


def test_per_feature_values_are_the_sums_of_their_encoded_columns(credit: Saved) -> None:
    loaded = load_artifact(credit.artifact, device="cpu")
    fitted = build_explainer(loaded, credit.demo.reference, seed=3, background_size=BACKGROUND)
    explanation = explain_rows(fitted, loaded, credit.demo.heldout.head(40))
    names = tuple(credit.demo.trained.preprocessor.encoded_names)
    assert explanation.encoded_values.shape == (40, len(names))
    claimed = [k for f in explanation.feature_names for k in encoded_columns_of(f, names)]
    assert sorted(claimed) == list(range(len(names)))  # each column counted exactly once
    for j, feature in enumerate(explanation.feature_names):
        columns = encoded_columns_of(feature, names)
        np.testing.assert_allclose(explanation.values[:, j],
                                   explanation.encoded_values[:, columns].sum(axis=1),
                                   rtol=0, atol=1e-12)
    np.testing.assert_allclose(explanation.values.sum(axis=1),
                               explanation.encoded_values.sum(axis=1), rtol=0, atol=1e-9)


def test_a_feature_whose_first_layer_weights_are_zero_gets_zero_importance(
        credit: Saved, tmp_path: Path) -> None:
    module = copy.deepcopy(credit.demo.trained.module)
    silenced = credit.demo.trained.preprocessor.feature_slices["duration"]  # 2nd most used
    with torch.no_grad():
        module.layers[0].weight[:, silenced] = 0.0
    artifact = save_variant(credit, module, tmp_path / "silenced")
    rows = by_key(monitor().run(window(credit, credit.demo.heldout, artifact=artifact)))
    for segment in ("all", "sex=female", "sex=male"):
        assert rows[("explain.importance.duration", segment)].value == 0.0
        assert rows[("explain.importance.status", segment)].value > 0.1
    assert rows[("explain.importance.duration", "all")].details["rank"] == 18


def test_a_linear_model_gets_the_closed_form_shapley_values(credit: Saved,
                                                           tmp_path: Path) -> None:
    pre, reference = credit.demo.trained.preprocessor, credit.demo.reference
    module = TabularMLP(pre.n_encoded, hidden=(), dropout=0.0)
    weights = np.random.default_rng(5).normal(size=pre.n_encoded)
    with torch.no_grad():
        module.layers[0].weight[:] = torch.from_numpy(weights).float()[None, :]
    artifact = save_variant(credit, module, tmp_path / "linear")
    loaded = load_artifact(artifact, device="cpu")
    fitted = build_explainer(loaded, reference, seed=0, background_size=len(reference))
    rows = credit.demo.heldout.head(20)
    explanation = explain_rows(fitted, loaded, rows)
    # Shapley values of w.x with a background distribution: w_k (x_k - mean_k)
    expected = weights * (pre.transform(rows) - pre.transform(reference).mean(axis=0))
    np.testing.assert_allclose(explanation.encoded_values, expected, rtol=1e-5, atol=1e-5)
    by_feature = np.stack([expected[:, c].sum(axis=1) for c in pre.feature_slices.values()], 1)
    assert list(np.argsort(-np.abs(by_feature).mean(axis=0))) == list(
        np.argsort(-explanation.importance()))


def test_attribution_shift_is_near_zero_on_the_reference_and_large_after_a_shift(
        credit: Saved) -> None:
    reference = credit.demo.reference
    rows = by_key(monitor().run(window(credit, reference)))
    baseline = rows[("explain.attribution_shift", "all")]
    importance = {m.split(".")[-1]: r.value for (m, s), r in rows.items()
                  if m.startswith("explain.importance.") and s == "all"}
    numeric = [f for f in importance if pd.api.types.is_numeric_dtype(reference[f])]
    least = min(numeric, key=importance.__getitem__)
    shifted = reference.assign(**{least: reference[least] + 10 * reference[least].std()})
    moved = by_key(monitor().run(window(credit, shifted)))[("explain.attribution_shift", "all")]
    assert baseline.status == "ok" and 0 <= baseline.value < 0.1
    assert moved.value > 0.3 and moved.value > 5 * baseline.value
    assert moved.ci_low > baseline.ci_high
    assert moved.details["top_window"][0] == least
    assert least not in moved.details["top_reference"]
    assert len(moved.details["top_window"]) == 5
    assert moved.details["top_overlap"] == [f for f in moved.details["top_window"]
                                            if f in moved.details["top_reference"]]
    assert moved.details["spearman"] == pytest.approx(1 - moved.value)


def test_importance_rows_exist_for_every_feature_and_every_sensitive_group(
        income: Saved) -> None:
    frame = income.demo.heldout
    rows = monitor(sample_size=200).run(window(income, frame))
    assert all(metric_info(row.metric) is not None for row in rows)
    features = income.demo.spec.features
    sample_groups = {"all"}
    for column in income.demo.spec.sensitive:
        sample_groups |= {f"{column}={v}" for v in frame[column].unique()}
    segments = {row.segment for row in rows if row.metric.startswith("explain.importance.")}
    assert {"all", "sex=Female", "sex=Male"} <= segments <= sample_groups
    importance = [r for r in rows if r.metric.startswith("explain.importance.")]
    for segment in segments:
        found = {r.metric for r in importance if r.segment == segment}
        assert found == {f"explain.importance.{f}" for f in features}
    for column in income.demo.spec.sensitive:
        sizes = {r.segment: r.n for r in importance if r.segment.startswith(f"{column}=")}
        assert sum(sizes.values()) == 200
    for row in importance:
        assert row.details["output"] == "logit"
        assert row.details["max_additivity_error"] < ADDITIVITY_TOLERANCE
        assert row.ci_low <= row.value <= row.ci_high
        small = row.n < income.demo.spec.monitoring.min_group_size
        assert row.status == ("insufficient_data" if small else "ok")
        assert row.value is not None


def test_explain_prediction_contributions_sum_to_the_logit_minus_the_base_value(
        credit: Saved, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []

    def counting_build(*args: object, **kwargs: object) -> FittedExplainer:
        builds.append(1)
        return build_explainer(*args, **kwargs)

    monkeypatch.setattr(shap_explainer, "build_explainer", counting_build)
    clear_explainer_cache()
    row = credit.demo.heldout.iloc[7]
    first = explain_prediction(credit.artifact, row, reference=credit.demo.reference)
    shap_values = [c["shap"] for c in first["contributions"]]
    assert sum(shap_values) == pytest.approx(first["logit"] - first["base_value"], abs=1e-4)
    assert [abs(v) for v in shap_values] == sorted((abs(v) for v in shap_values), reverse=True)
    assert {c["feature"] for c in first["contributions"]} == set(credit.demo.spec.features)
    assert first["probability"] == pytest.approx(
        float(credit.demo.trained.predict_proba(row.to_frame().T)[0]), abs=1e-6)
    assert first["inputs"]["duration"] == row["duration"] and first["output"] == "logit"
    assert first["max_additivity_error"] < ADDITIVITY_TOLERANCE
    second = explain_prediction(credit.artifact, row.to_dict(),
                                reference=credit.demo.reference.copy())
    assert second == first and len(builds) == 1  # the second call used the cache


def test_a_window_without_an_artifact_gives_error_rows_with_the_reason(credit: Saved) -> None:
    empty = dataclasses.replace(window(credit, credit.demo.heldout), artifact_dir=None)
    rows = ExplainMonitor().run(empty)
    assert {row.metric for row in rows} == {
        *(f"explain.importance.{f}" for f in credit.demo.spec.features),
        "explain.attribution_shift"}
    assert all(r.status == "error" and r.value is None for r in rows)
    assert all(r.details["reason"] == NO_ARTIFACT for r in rows)


def test_an_artifact_that_cannot_be_loaded_gives_error_rows(credit: Saved,
                                                            tmp_path: Path) -> None:
    (tmp_path / "weights.pt").write_bytes(b"not a state dict")  # a network, but no architecture
    rows = ExplainMonitor().run(window(credit, credit.demo.heldout, artifact=tmp_path))
    prefix = EXPLAINER_UNAVAILABLE.split("{")[0]
    assert all(r.status == "error" and r.details["reason"].startswith(prefix) for r in rows)
    assert "architecture.json" in rows[0].details["reason"]


class FunctionalReluMLP(nn.Module):
    """A ReLU called as a function: DeepExplainer cannot see it, so it is not additive."""

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.first, self.last = nn.Linear(n_inputs, 16), nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(torch.relu(self.first(x)))


def test_explanations_that_miss_the_logit_become_error_rows(credit: Saved,
                                                            tmp_path: Path) -> None:
    register_architecture("test_functional_relu_mlp", FunctionalReluMLP)
    torch.manual_seed(0)
    module = FunctionalReluMLP(credit.demo.trained.preprocessor.n_encoded).eval()
    module.params = {"n_inputs": credit.demo.trained.preprocessor.n_encoded}
    artifact = save_variant(credit, module, tmp_path / "functional",
                            architecture="test_functional_relu_mlp")
    rows = monitor(sample_size=20).run(window(credit, credit.demo.heldout, artifact=artifact))
    assert all(r.status == "error" and r.value is None for r in rows)
    assert rows[0].details["max_additivity_error"] > ADDITIVITY_TOLERANCE
    assert rows[0].details["reason"].startswith("SHAP values do not add up to the model's logit")


def test_spearman_matches_scipy_including_ties() -> None:
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 5, size=12).astype(float)
    rows = rng.integers(0, 5, size=(6, 12)).astype(float)
    expected = [spearmanr(r, reference).statistic for r in rows]
    np.testing.assert_allclose(spearman(rows, reference), expected, atol=1e-12)
    assert np.isnan(spearman(rows[:1], np.ones(12))[0])


def test_the_monitor_is_registered_and_rejects_non_binary_models(credit: Saved) -> None:
    assert MONITORS["explain"] is ExplainMonitor
    spec = credit.demo.spec.model_copy(update={"output_kind": "regression"})
    frame = window(credit, credit.demo.heldout)
    with pytest.raises(ConfigError) as info:
        ExplainMonitor().run(dataclasses.replace(frame, spec=spec))
    assert str(info.value) == UNSUPPORTED_OUTPUT_KIND.format(model="credit-risk",
                                                            kind="regression")
