"""ExplainMonitor on the real demo models, whose built-in TabularMLP keeps shap's
DeepExplainer: additivity in logit space for every explained row, per-feature sums that
keep it, importance checked against models whose answer is known without SHAP (a zeroed
input, a linear model), attribution shift, per-group rows and the single-prediction
explanation; a module DeepExplainer cannot see through gets integrated gradients."""

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
from raigov.monitors import attribution_methods
from raigov.monitors.attribution_methods import Attributions, Fitted, choose_method, explain_frame
from raigov.monitors.explain import (EXPLAINER_UNAVAILABLE, INCOMPLETE, UNSUPPORTED_OUTPUT_KIND,
                                     ExplainMonitor, spearman)
from raigov.monitors.explain_cache import clear_explainer_cache
from raigov.monitors.explain_model import NO_NETWORK, load_explainable
from raigov.monitors.explain_one import explain_prediction
from raigov.monitors.shap_explainer import ADDITIVITY_TOLERANCE
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


def build_explainer(saved: Saved, reference: pd.DataFrame, *, seed: int, background_size: int,
                    artifact: Path | None = None, method: str = "auto") -> Fitted:
    model = load_explainable(artifact or saved.artifact, saved.demo.spec, device="cpu")
    return choose_method(model, method).fit(model, reference, background_size=background_size,
                                            seed=seed)


def logit_values(found: Attributions) -> np.ndarray:
    """``[n, F]`` attributions to the one logit of a binary model."""
    assert found.values.shape[1] == 1
    return found.values[:, 0, :]


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
    fitted = build_explainer(saved, saved.demo.reference, seed=0, background_size=BACKGROUND)
    rows = saved.demo.heldout.sample(n=SAMPLE, random_state=1)
    found = explain_frame(fitted, rows)
    logits = module_logits(saved.demo.trained.module,
                           saved.demo.trained.preprocessor.transform(rows))
    errors = np.abs(found.baseline[0] + logit_values(found).sum(axis=1) - logits)
    assert fitted.method.name == "deep_shap"
    assert logit_values(found).shape == (SAMPLE, len(saved.demo.spec.features))
    assert errors.max() < ADDITIVITY_TOLERANCE
    assert found.errors.max() == pytest.approx(errors.max(), abs=1e-6)
    assert found.within_bound().all() and found.bound[0] == ADDITIVITY_TOLERANCE


def test_the_base_value_is_the_mean_logit_of_the_background(credit: Saved) -> None:
    reference = credit.demo.reference  # 700 rows: all of them are the background
    fitted = build_explainer(credit, reference, seed=0, background_size=len(reference))
    found = explain_frame(fitted, credit.demo.heldout.head(3))
    score = reference["score"].to_numpy()
    assert fitted.background_size == len(reference)
    assert found.baseline[0] == pytest.approx(np.log(score / (1 - score)).mean(), abs=1e-4)
    assert found.errors.max() < ADDITIVITY_TOLERANCE


def test_per_feature_values_are_the_sums_of_their_encoded_columns(credit: Saved) -> None:
    fitted = build_explainer(credit, credit.demo.reference, seed=3, background_size=BACKGROUND)
    found = explain_frame(fitted, credit.demo.heldout.head(40))
    names = tuple(credit.demo.trained.preprocessor.encoded_names)
    encoded, values = found.input_values[:, 0, :], logit_values(found)
    assert encoded.shape == (40, len(names))
    features = credit.demo.spec.features
    claimed = [k for f in features for k in encoded_columns_of(f, names)]
    assert sorted(claimed) == list(range(len(names)))  # each column counted exactly once
    for j, feature in enumerate(features):
        columns = encoded_columns_of(feature, names)
        np.testing.assert_allclose(values[:, j], encoded[:, columns].sum(axis=1),
                                   rtol=0, atol=1e-12)
    np.testing.assert_allclose(values.sum(axis=1), encoded.sum(axis=1), rtol=0, atol=1e-9)


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
    fitted = build_explainer(credit, reference, seed=0, background_size=len(reference),
                             artifact=artifact)
    rows = credit.demo.heldout.head(20)
    found = explain_frame(fitted, rows)
    # Shapley values of w.x with a background distribution: w_k (x_k - mean_k)
    expected = weights * (pre.transform(rows) - pre.transform(reference).mean(axis=0))
    np.testing.assert_allclose(found.input_values[:, 0, :], expected, rtol=1e-5, atol=1e-5)
    by_feature = np.stack([expected[:, c].sum(axis=1) for c in pre.feature_slices.values()], 1)
    assert list(np.argsort(-np.abs(by_feature).mean(axis=0))) == list(
        np.argsort(-np.abs(logit_values(found)).mean(axis=0)))


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
        assert row.details["output"] == "logit" and row.details["method"] == "deep_shap"
        assert row.details["max_completeness_error"] < ADDITIVITY_TOLERANCE
        assert row.ci_low <= row.value <= row.ci_high
        small = row.n < income.demo.spec.monitoring.min_group_size
        assert row.status == ("insufficient_data" if small else "ok")
        assert row.value is not None


def test_explain_prediction_contributions_sum_to_the_logit_minus_the_base_value(
        credit: Saved, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    original = attribution_methods.DeepShap.fit

    def counting_fit(*args: object, **kwargs: object) -> Fitted:
        builds.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(attribution_methods.DeepShap, "fit", counting_fit)
    clear_explainer_cache()
    row = credit.demo.heldout.iloc[7]
    spec = credit.demo.spec
    first = explain_prediction(credit.artifact, row, spec=spec, reference=credit.demo.reference)
    shap_values = [c["contribution"] for c in first["contributions"]]
    assert sum(shap_values) == pytest.approx(first["logit"] - first["base_value"], abs=1e-4)
    assert first["output_value"] == first["logit"] and first["baseline"] == first["base_value"]
    assert [abs(v) for v in shap_values] == sorted((abs(v) for v in shap_values), reverse=True)
    assert {c["feature"] for c in first["contributions"]} == set(credit.demo.spec.features)
    assert first["probability"] == pytest.approx(
        float(credit.demo.trained.predict_proba(row.to_frame().T)[0]), abs=1e-6)
    assert first["prediction"]["score"] == pytest.approx(first["probability"])
    assert first["inputs"]["duration"] == row["duration"] and first["output"] == "logit"
    assert first["completeness_error"] < ADDITIVITY_TOLERANCE == first["completeness_bound"]
    second = explain_prediction(credit.artifact, row.to_dict(), spec=spec,
                                reference=credit.demo.reference.copy())
    assert second == first and len(builds) == 1  # the second call used the cache


def test_a_window_without_an_artifact_gives_insufficient_data_rows_with_the_reason(
        credit: Saved) -> None:
    empty = dataclasses.replace(window(credit, credit.demo.heldout), artifact_dir=None)
    rows = ExplainMonitor().run(empty)
    assert {row.metric for row in rows} == {
        *(f"explain.importance.{f}" for f in credit.demo.spec.features),
        "explain.attribution_shift"}
    assert {r.status for r in rows} == {"insufficient_data"}
    assert all(r.value is None for r in rows)
    assert {r.details["reason"] for r in rows} == {NO_NETWORK.format(model="credit-risk")}


def test_an_artifact_that_cannot_be_loaded_gives_error_rows(credit: Saved,
                                                            tmp_path: Path) -> None:
    (tmp_path / "weights.pt").write_bytes(b"not weights")  # an artifact, broken
    rows = ExplainMonitor().run(window(credit, credit.demo.heldout, artifact=tmp_path))
    prefix = EXPLAINER_UNAVAILABLE.split("{")[0]
    assert all(r.status == "error" and r.details["reason"].startswith(prefix) for r in rows)
    assert "architecture.json" in rows[0].details["reason"]


class FunctionalReluMLP(nn.Module):
    """A ReLU called as a function: DeepExplainer cannot see it, so it is not additive;
    integrated gradients are."""

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.first, self.last = nn.Linear(n_inputs, 16), nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(torch.relu(self.first(x)))


@pytest.fixture(scope="module")
def functional(credit: Saved, tmp_path_factory: pytest.TempPathFactory) -> Path:
    register_architecture("test_functional_relu_mlp", FunctionalReluMLP)
    torch.manual_seed(0)
    n_inputs = credit.demo.trained.preprocessor.n_encoded
    module = FunctionalReluMLP(n_inputs).eval()
    module.params = {"n_inputs": n_inputs}
    return save_variant(credit, module, tmp_path_factory.mktemp("functional"),
                        architecture="test_functional_relu_mlp")


def test_a_module_deepexplainer_cannot_see_through_gets_integrated_gradients(
        credit: Saved, functional: Path) -> None:
    rows = monitor(sample_size=40).run(window(credit, credit.demo.heldout, artifact=functional))
    assert {r.status for r in rows} <= {"ok", "insufficient_data"}
    shift = rows[-1]
    assert shift.details["method"] == "integrated_gradients"
    bound = shift.details["completeness_bound"]["good"]
    assert 0 < shift.details["max_completeness_error"] <= bound
    fitted = build_explainer(credit, credit.demo.reference, seed=0, background_size=BACKGROUND,
                             artifact=functional)
    rows_in = credit.demo.heldout.head(40)
    found = explain_frame(fitted, rows_in)
    module = load_artifact(functional, device="cpu").module
    logits = module_logits(module, credit.demo.trained.preprocessor.transform(rows_in))
    base = module_logits(module, fitted.baseline_input[None, :])[0]
    errors = np.abs(base + logit_values(found).sum(axis=1) - logits)
    assert errors.max() <= bound


def test_deepexplainer_forced_on_it_misses_the_logit_and_gives_error_rows(
        credit: Saved, functional: Path) -> None:
    rows = monitor(sample_size=20, method="deep_shap").run(
        window(credit, credit.demo.heldout, artifact=functional))
    assert all(r.status == "error" and r.value is None for r in rows)
    assert rows[0].details["max_completeness_error"] > ADDITIVITY_TOLERANCE
    assert rows[0].details["reason"].startswith(INCOMPLETE.split("{")[0])


def test_spearman_matches_scipy_including_ties() -> None:
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 5, size=12).astype(float)
    rows = rng.integers(0, 5, size=(6, 12)).astype(float)
    expected = [spearmanr(r, reference).statistic for r in rows]
    np.testing.assert_allclose(spearman(rows, reference), expected, atol=1e-12)
    assert np.isnan(spearman(rows[:1], np.ones(12))[0])


def test_the_monitor_is_registered_and_rejects_a_kind_without_an_explained_output(
        credit: Saved) -> None:
    assert MONITORS["explain"] is ExplainMonitor
    assert ExplainMonitor.output_kinds == ("binary", "multiclass", "regression")
    spec = credit.demo.spec.model_copy(update={"output_kind": "ranking"})
    frame = window(credit, credit.demo.heldout)
    with pytest.raises(ConfigError) as info:
        ExplainMonitor().run(dataclasses.replace(frame, spec=spec))
    assert str(info.value) == UNSUPPORTED_OUTPUT_KIND.format(
        kind="ranking", model="credit-risk", kinds=["binary", "multiclass", "regression"])


def test_the_reference_explanation_is_kept_on_disk_and_read_back_by_a_new_process(
        credit: Saved, tmp_path: Path) -> None:
    import json

    from raigov.monitors.explain_disk_cache import FILE

    frame = credit.demo.heldout
    cache = tmp_path / "cache" / "credit-risk" / "1"
    cached = dataclasses.replace(window(credit, frame), cache_dir=cache)
    clear_explainer_cache()
    plain = monitor().run(window(credit, frame))      # no cache directory: nothing kept
    assert not cache.exists()
    clear_explainer_cache()
    first = monitor().run(cached)
    text = (cache / FILE).read_text()
    stored = json.loads(text)
    assert stored["key"]["seed"] == 0 and stored["key"]["size"] == SAMPLE
    clear_explainer_cache()                           # as a new process would start
    second = monitor().run(cached)

    def values(rows: list[MetricRow]) -> dict:
        return {k: (r.value, r.ci_low, r.ci_high, r.status) for k, r in by_key(rows).items()}

    assert values(first) == values(plain) == values(second)
    # What is read back is what decides: a stored reference with errors above the bound
    # turns every row into an error (only a read-back can have seen it).
    errors = stored["attributions"]["errors"]
    errors["data"] = [1.0] * len(errors["data"])
    (cache / FILE).write_text(json.dumps(stored))
    clear_explainer_cache()
    assert {r.status for r in monitor().run(cached)} == {"error"}
    clear_explainer_cache()
    monitor(seed=1).run(cached)                       # another key: computed and replaced
    assert json.loads((cache / FILE).read_text())["key"]["seed"] == 1
