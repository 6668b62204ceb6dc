"""Integrated gradients for networks written here (not raigov's classes) on Adult, fed as
the exported-program contract says: one float32 [N, F] matrix of the spec's features,
numeric values as they are, categorical features as the index of the value in the
column's ``allowed`` list, nulls as NaN. Each network is wrapped in a tiny object with
the loaded-model interface. For a binary, a multiclass and a regression network every
explained row's completeness error is within the stated bound, recomputed here from the
network's own forward pass; the attributions match a closed form (a linear network) and
a brute-force integral (a smooth network); a network that is not continuous in its
inputs and a model served elsewhere say so."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from raigov.models.datasets import load_adult
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.monitors import explain_cache
from raigov.monitors.attribution_methods import (IG_TOLERANCE, choose_method, explain_frame)
from raigov.monitors.base import WindowData
from raigov.monitors.explain import INCOMPLETE, ExplainMonitor
from raigov.monitors.explain_cache import clear_explainer_cache
from raigov.monitors.explain_model import (NO_NETWORK, SERVED_ELSEWHERE, ExplainableModel,
                                           load_explainable)

NUMERIC = ("age", "education_num", "capital_gain", "capital_loss", "hours_per_week")
CATEGORICAL = ("workclass", "marital_status", "occupation", "relationship")
START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
SAMPLE = 120


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    clear_explainer_cache()


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult("train").sample(n=6000, random_state=0).reset_index(drop=True)


def make_spec(adult: pd.DataFrame, *, kind: str, numeric: tuple[str, ...],
              categorical: tuple[str, ...], classes: tuple[str, ...] = ()) -> ModelSpec:
    columns = [ColumnSpec(name=c, dtype="int") for c in numeric]
    columns += [ColumnSpec(name=c, dtype="str", nullable=True,
                           allowed=tuple(sorted(adult[c].dropna().unique())))
                for c in categorical]
    columns += [ColumnSpec(name=c, dtype="str") for c in ("sex", "race")]
    extra = {"classes": classes, "positive_class": classes[-1]} if classes else {"classes": ()}
    return ModelSpec(name=f"adult-{kind}", output_kind=kind,
                     inputs=InputSchema(columns=tuple(columns)),
                     features=numeric + categorical, sensitive=("sex", "race"), **extra)


def encode(spec: ModelSpec, df: pd.DataFrame) -> np.ndarray:
    """The exported-program input contract, written out here."""
    out = np.empty((len(df), len(spec.features)), dtype=np.float32)
    for j, name in enumerate(spec.features):
        allowed = spec.inputs.column(name).allowed
        if allowed is None:
            out[:, j] = pd.to_numeric(df[name]).to_numpy(dtype=np.float64)
        else:
            index = {v: i for i, v in enumerate(allowed)}
            out[:, j] = [np.nan if pd.isna(v) else index[v] for v in df[name]]
    return out


@dataclasses.dataclass
class InTestModel:
    """A network written in a test, seen through the loaded-model interface."""

    spec: ModelSpec
    network: nn.Module
    device: str = "cpu"
    deep_exact: bool = False
    runnable: bool = True

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.spec.features)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        return encode(self.spec, df)

    def forward(self, df: pd.DataFrame) -> np.ndarray:
        with torch.no_grad():
            return self.network(torch.from_numpy(self.encode(df))).double().numpy()


class LerpEmbedding(nn.Module):
    """An embedding read at a fractional index by linear interpolation between rows:
    equal to the lookup at every category index, and continuous in the index, so
    gradients along a path between two categories integrate to the change."""

    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n, dim) * 0.3)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        top = self.weight.shape[0] - 1
        index = index.clamp(0, top)
        low = index.floor().detach()
        frac = (index - low).unsqueeze(-1)
        low = low.long()
        return self.weight[low] * (1 - frac) + self.weight[(low + 1).clamp(max=top)] * frac


class AdultNet(nn.Module):
    """Standardise the numeric inputs, embed the categorical indices, a ReLU MLP."""

    def __init__(self, spec: ModelSpec, x: np.ndarray, outputs: int,
                 activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        numeric = [j for j, f in enumerate(spec.features) if spec.inputs.column(f).allowed is None]
        self.numeric, self.categorical = numeric, [j for j in range(x.shape[1]) if j not in numeric]
        self.register_buffer("mean", torch.tensor(np.nanmean(x[:, numeric], axis=0)))
        self.register_buffer("std", torch.tensor(np.nanstd(x[:, numeric], axis=0) + 1e-6))
        sizes = [len(spec.inputs.column(spec.features[j]).allowed) for j in self.categorical]
        self.embeddings = nn.ModuleList(LerpEmbedding(n, 4) for n in sizes)
        width = len(numeric) + 4 * len(sizes)
        self.mlp = nn.Sequential(nn.Linear(width, 32), activation(), nn.Linear(32, 16),
                                 activation(), nn.Linear(16, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [(x[:, self.numeric] - self.mean) / self.std]
        parts += [e(x[:, j]) for e, j in zip(self.embeddings, self.categorical)]
        return self.mlp(torch.cat(parts, dim=1))


def train(net: nn.Module, x: np.ndarray, target: torch.Tensor, loss: nn.Module,
          steps: int = 60) -> nn.Module:
    torch.manual_seed(0)
    keep = np.isfinite(x).all(axis=1)
    inputs = torch.from_numpy(x[keep])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss(net(inputs), target[torch.from_numpy(keep)]).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def binary(adult: pd.DataFrame) -> InTestModel:
    spec = make_spec(adult, kind="binary", numeric=NUMERIC, categorical=CATEGORICAL,
                     classes=("<=50K", ">50K"))
    x = encode(spec, adult)
    torch.manual_seed(0)
    target = torch.tensor(adult["income"].to_numpy(), dtype=torch.float32)[:, None]
    net = train(AdultNet(spec, x, 1), x, target, nn.BCEWithLogitsLoss())
    return InTestModel(spec, net)


@pytest.fixture(scope="module")
def multiclass(adult: pd.DataFrame) -> InTestModel:
    classes = tuple(sorted(adult["relationship"].unique()))
    spec = make_spec(adult, kind="multiclass", numeric=NUMERIC,
                     categorical=("workclass", "occupation"), classes=classes)
    x = encode(spec, adult)
    torch.manual_seed(0)
    target = torch.tensor(adult["relationship"].map(classes.index).to_numpy())
    net = train(AdultNet(spec, x, len(classes)), x, target, nn.CrossEntropyLoss())
    return InTestModel(spec, net)


@pytest.fixture(scope="module")
def regression(adult: pd.DataFrame) -> InTestModel:
    numeric = ("age", "education_num", "capital_gain", "capital_loss")
    spec = make_spec(adult, kind="regression", numeric=numeric, categorical=CATEGORICAL)
    x = encode(spec, adult)
    torch.manual_seed(0)
    target = torch.tensor(adult["hours_per_week"].to_numpy(), dtype=torch.float32)[:, None]
    net = train(AdultNet(spec, x, 1), x, target, nn.MSELoss(), steps=120)
    return InTestModel(spec, net)


def window(model: InTestModel, frame: pd.DataFrame, reference: pd.DataFrame) -> WindowData:
    frame = frame.assign(prediction_id=[f"p{i}" for i in range(len(frame))])
    return WindowData(spec=model.spec, version=1, start=START, end=START + dt.timedelta(days=1),
                      frame=frame, reference=reference, artifact_dir=Path("in-test"))


def run_monitor(model: ExplainableModel, frame: pd.DataFrame, reference: pd.DataFrame,
                monkeypatch: pytest.MonkeyPatch, **params: object) -> list:
    """The monitor with the loader answering the test's model (the artifact loaders
    return such objects; here the network is the test's own)."""
    clear_explainer_cache()
    monkeypatch.setattr(explain_cache, "load_explainable", lambda *a, **k: model)
    monitor = ExplainMonitor(background_size=100, sample_size=SAMPLE, bootstrap=50, **params)
    return monitor.run(window(model, frame, reference))


def forward(model: InTestModel, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model.network(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return out.double().numpy().reshape(len(x), -1)


def check_every_row_is_complete(model: InTestModel, adult: pd.DataFrame) -> None:
    """Fit on rows 0-2999, explain rows 3000-3119; recompute outputs, baseline and the
    bound from the network here and hold every row and output to it."""
    reference, rows = adult.iloc[:3000], adult.iloc[3000:3000 + SAMPLE]
    method = choose_method(model)
    fitted = method.fit(model, reference, background_size=100, seed=0)
    found = explain_frame(fitted, rows)
    x = encode(model.spec, rows)
    finite = np.isfinite(x).all(axis=1)
    assert method.name == "integrated_gradients"
    assert found.n == finite.sum() > 100 and found.skipped == (~finite).sum()
    outputs = forward(model, x[finite])
    baseline = forward(model, fitted.baseline_input[None, :])[0]
    background = encode(model.spec, reference.sample(n=100, random_state=explain_cache_rng()))
    spread = forward(model, background[np.isfinite(background).all(axis=1)]).std(axis=0)
    bound = IG_TOLERANCE * np.maximum(1.0, spread)
    errors = np.abs(baseline[None, :] + found.values.sum(axis=2) - outputs)
    assert errors.shape == (found.n, outputs.shape[1])
    assert (errors <= bound[None, :]).all(), (errors.max(axis=0), bound)
    np.testing.assert_allclose(found.bound, bound, rtol=1e-6)  # the stated rule, recomputed
    np.testing.assert_allclose(found.outputs, outputs, atol=1e-5)
    return found, outputs


def explain_cache_rng() -> np.random.Generator:
    from raigov.monitors.counts import make_rng

    return make_rng(0, "explain:background")


def test_every_row_of_a_binary_network_adds_up_to_its_logit_within_the_bound(
        binary: InTestModel, adult: pd.DataFrame) -> None:
    found, outputs = check_every_row_is_complete(binary, adult)
    assert found.values.shape == (found.n, 1, len(binary.spec.features))
    assert (found.decision == 0).all()


def test_every_class_output_of_a_multiclass_network_adds_up_within_the_bound(
        multiclass: InTestModel, adult: pd.DataFrame) -> None:
    found, outputs = check_every_row_is_complete(multiclass, adult)
    assert found.values.shape == (found.n, len(multiclass.spec.classes),
                                  len(multiclass.spec.features))
    np.testing.assert_array_equal(found.decision, outputs.argmax(axis=1))


def test_every_row_of_a_regression_network_adds_up_to_its_value_within_the_bound(
        regression: InTestModel, adult: pd.DataFrame) -> None:
    found, outputs = check_every_row_is_complete(regression, adult)
    assert outputs.std() > 1.0  # a fitted regressor, not a constant
    assert found.values.shape == (found.n, 1, len(regression.spec.features))


def test_a_linear_network_gets_weight_times_distance_from_the_baseline(
        binary: InTestModel, adult: pd.DataFrame) -> None:
    width = len(binary.spec.features)
    linear = nn.Linear(width, 1)
    weights = np.random.default_rng(5).normal(size=width) / 100
    with torch.no_grad():
        linear.weight[:] = torch.from_numpy(weights).float()[None, :]
    model = dataclasses.replace(binary, network=linear.eval())
    fitted = choose_method(model).fit(model, adult.iloc[:3000], background_size=100, seed=0)
    rows = adult.iloc[3000:3040]
    found = explain_frame(fitted, rows)
    x = encode(binary.spec, rows)[found.kept].astype(np.float64)
    expected = weights * (x - fitted.baseline_input.astype(np.float64))
    np.testing.assert_allclose(found.values[:, 0, :], expected, rtol=1e-4, atol=1e-5)


def test_a_smooth_network_matches_a_brute_force_integral_of_its_gradients(
        binary: InTestModel, adult: pd.DataFrame) -> None:
    x_all = encode(binary.spec, adult)
    net = AdultNet(binary.spec, x_all, 1, activation=nn.Tanh)
    smooth = dataclasses.replace(binary, network=train(
        net, x_all, torch.tensor(adult["income"].to_numpy(), dtype=torch.float32)[:, None],
        nn.BCEWithLogitsLoss(), steps=30))
    fitted = choose_method(smooth).fit(smooth, adult.iloc[:3000], background_size=100, seed=0)
    rows = adult.iloc[3000:3010]
    found = explain_frame(fitted, rows)
    x = torch.from_numpy(encode(binary.spec, rows)[found.kept]).double()
    base = torch.from_numpy(fitted.baseline_input).double()
    steps = 20000  # midpoint rule, in float64, on a copy of the network
    double = copy_double(smooth.network)
    alphas = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps
    for i in range(len(x)):
        points = (base + alphas[:, None] * (x[i] - base)).requires_grad_(True)
        grad, = torch.autograd.grad(double(points).sum(), points)
        brute = ((x[i] - base) * grad.mean(dim=0)).numpy()
        np.testing.assert_allclose(found.values[i, 0], brute, atol=2e-3)


def copy_double(network: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(network).double()


class LookupNet(nn.Module):
    """A hard embedding lookup on the categorical index: piecewise constant in it."""

    def __init__(self, width: int, categorical: int) -> None:
        super().__init__()
        self.j = categorical
        self.embedding = nn.Embedding(20, 1)
        self.linear = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x / 100) + 3 * self.embedding(x[:, self.j].long())


def test_a_network_that_jumps_at_category_indices_gives_error_rows_naming_the_miss(
        binary: InTestModel, adult: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    lookup = LookupNet(len(binary.spec.features), binary.spec.features.index("relationship"))
    model = dataclasses.replace(binary, network=lookup.eval())
    rows = run_monitor(model, adult.iloc[3000:], adult.iloc[:3000], monkeypatch)
    assert {r.status for r in rows} == {"error"} and all(r.value is None for r in rows)
    reason = rows[0].details["reason"]
    assert reason.startswith(INCOMPLETE.split("{")[0])
    assert rows[0].details["max_completeness_error"] > 0.05


def test_monitor_rows_of_a_multiclass_network_cover_each_class_and_group(
        multiclass: InTestModel, adult: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = run_monitor(multiclass, adult.iloc[3000:], adult.iloc[:3000], monkeypatch)
    importance = [r for r in rows if r.metric.startswith("explain.importance.")]
    segments = {r.segment for r in importance}
    classes = {f"class={c}" for c in multiclass.spec.classes}
    assert classes <= segments and {"all", "sex=Female", "sex=Male"} <= segments
    for segment in segments:
        found = {r.metric for r in importance if r.segment == segment}
        assert found == {f"explain.importance.{f}" for f in multiclass.spec.features}
    shift = rows[-1]
    assert shift.metric == "explain.attribution_shift" and shift.status == "ok"
    assert shift.details["method"] == "integrated_gradients"
    assert shift.details["max_completeness_error"] <= max(
        shift.details["completeness_bound"].values())
    errors = shift.details["completeness_errors"]
    assert len(errors) == shift.n == SAMPLE - shift.details["skipped_rows"]
    sample = [r for r in importance if r.segment == "all"][0]
    assert sample.n == shift.n and sample.details["targets"] == list(multiclass.spec.classes)
    # the class rows average |attribution| to that class's output over every explained row
    assert {r.n for r in importance if r.segment in classes} == {shift.n}


def test_a_model_served_elsewhere_gives_insufficient_data_with_the_reason(
        binary: InTestModel, adult: pd.DataFrame, tmp_path: Path) -> None:
    clear_explainer_cache()
    external = tmp_path / "external"
    external.mkdir()
    (external / "spec.json").write_text(binary.spec.model_dump_json())
    frame = window(binary, adult.iloc[:50], adult.iloc[:100])
    for artifact, reason in ((external, SERVED_ELSEWHERE), (None, NO_NETWORK)):
        rows = ExplainMonitor().run(dataclasses.replace(frame, artifact_dir=artifact))
        assert {r.metric for r in rows} == {
            *(f"explain.importance.{f}" for f in binary.spec.features),
            "explain.attribution_shift"}
        assert {r.status for r in rows} == {"insufficient_data"}
        assert {r.details["reason"] for r in rows} == {reason.format(model="adult-binary")}
    assert load_explainable(external, binary.spec).runnable is False
