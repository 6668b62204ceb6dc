"""Attribution methods, which one a model gets, and what they return.

Two methods in :data:`ATTRIBUTION_METHODS`, each held to its own completeness bound
(``|baseline + sum of a row's attributions - the row's output|``, measured per row and
per explained output):

- ``deep_shap``: shap's DeepExplainer, where it is exact (``model.deep_exact``: raigov's
  built-in ``TabularMLP``); baseline: the mean output over the background sample;
  bound :data:`DEEP_TOLERANCE` (1e-4, output units).
- ``integrated_gradients`` (every other differentiable network): integrated gradients
  from one baseline input, the per-input (lower) median of the background sample, with
  the adaptive rule of ``raigov.monitors.attribution_ig``; baseline: the output at that
  input; bound ``IG_TOLERANCE * max(1, sd)`` with ``sd`` the standard deviation of the
  output over the background sample (1e-3 of the output's spread).

``auto`` picks ``deep_shap`` when ``model.deep_exact`` and ``integrated_gradients``
otherwise. Attributions are on the network's raw output (see
``raigov.monitors.attribution_targets``), per network input and summed per spec
feature. Rows whose network input is not finite (a missing value fed as NaN) cannot be
put on a path: they are left out and counted (``skipped``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from raigov.monitors.attribution_targets import as_targets, explain_target
from raigov.monitors.explain_model import ExplainableModel, feature_columns, sum_by_feature
from raigov.monitors.shap_explainer import (ADDITIVITY_TOLERANCE, background_matrix, deep_values,
                                            fit_deep)
from raigov.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

DEEP_TOLERANCE = ADDITIVITY_TOLERANCE
IG_TOLERANCE = 1e-3
IG_INITIAL_SEGMENTS = 8
IG_MAX_DEPTH = 12
AUTO = "auto"


@dataclass(frozen=True)
class Fitted:
    """A method fitted to a model and its background sample."""

    method: "AttributionMethod"
    model: ExplainableModel
    columns: dict[str, list[int]]
    background_size: int
    seed: int
    baseline_input: np.ndarray | None     # [F'] the IG baseline (None: a distribution)
    bound: np.ndarray                     # [T] completeness bound per output
    state: Any = None
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Attributions:
    """Attributions of the explained rows (``kept``: their positions in the frame)."""

    values: np.ndarray          # [n, T, F] per spec feature
    input_values: np.ndarray    # [n, T, F'] per network input
    outputs: np.ndarray         # [n, T] the explained raw outputs
    baseline: np.ndarray        # [T]
    errors: np.ndarray          # [n, T] completeness error
    bound: np.ndarray           # [T]
    decision: np.ndarray        # [n] index of the target that explains the decision
    kept: np.ndarray            # [n] positions in the explained frame
    skipped: int
    seconds: float
    evaluations: float          # network evaluations per row (IG) or background rows

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    def decision_values(self) -> np.ndarray:
        """``[n, F]``: each row's attributions to its decision's output."""
        return self.values[np.arange(self.n), self.decision]

    def decision_errors(self) -> np.ndarray:
        return self.errors[np.arange(self.n), self.decision]

    def within_bound(self) -> np.ndarray:
        """``[n]`` bool: every output of the row within its bound."""
        return np.all(self.errors <= self.bound[None, :], axis=1)


class AttributionMethod:
    name: ClassVar[str]
    description: ClassVar[str]

    def fit(self, model: ExplainableModel, reference: "pd.DataFrame", *,
            background_size: int, seed: int) -> Fitted:
        raise NotImplementedError

    def attribute(self, fitted: Fitted, x: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray, float]:
        """(input attributions ``[n, T, F']``, outputs ``[n, T]``, baseline ``[T]``,
        evaluations per row) of finite encoded rows."""
        raise NotImplementedError

    def details(self, fitted: Fitted) -> dict[str, Any]:
        return {"method": self.name, "method_description": self.description,
                "background_size": fitted.background_size}


class DeepShap(AttributionMethod):
    name = "deep_shap"
    description = ("shap.DeepExplainer (exact on raigov's TabularMLP); baseline: the mean "
                   "output over the background sample")

    def fit(self, model, reference, *, background_size, seed):
        background = background_matrix(model.encode, reference, size=background_size,
                                       seed=seed)
        state = fit_deep(model.network, background, device=model.device)
        bound = np.full(len(state.base_values), DEEP_TOLERANCE)
        return Fitted(self, model, feature_columns(model), len(background), seed, None,
                      bound, state)

    def attribute(self, fitted, x):
        values = deep_values(fitted.state, x)
        outputs = _forward(fitted.model, x)
        return values, outputs, fitted.state.base_values, float(fitted.background_size)

    def details(self, fitted):
        return {**super().details(fitted), "bound_rule": f"{DEEP_TOLERANCE:g} output units"}


class IntegratedGradients(AttributionMethod):
    name = "integrated_gradients"
    description = ("integrated gradients from the background's per-input median, adaptive "
                   "midpoint rule with measured completeness")

    def fit(self, model, reference, *, background_size, seed):
        background = background_matrix(model.encode, reference, size=background_size,
                                       seed=seed)
        baseline = np.quantile(background, 0.5, axis=0, method="lower").astype(np.float32)
        spread = _forward(model, background).std(axis=0)
        bound = IG_TOLERANCE * np.maximum(1.0, spread)
        return Fitted(self, model, feature_columns(model), len(background), seed, baseline,
                      bound)

    def attribute(self, fitted, x):
        from raigov.monitors.attribution_ig import integrated_gradients

        paths = integrated_gradients(fitted.model.network, x, fitted.baseline_input,
                                     tolerance=fitted.bound, device=fitted.model.device,
                                     initial_segments=IG_INITIAL_SEGMENTS,
                                     max_depth=IG_MAX_DEPTH)
        evaluations = float(paths.evaluations.mean()) if len(x) else 0.0
        return paths.values, paths.outputs, paths.baseline_outputs, evaluations

    def details(self, fitted):
        return {**super().details(fitted), "initial_segments": IG_INITIAL_SEGMENTS,
                "max_depth": IG_MAX_DEPTH,
                "bound_rule": f"{IG_TOLERANCE:g} x max(1, sd of the output over the background)"}


ATTRIBUTION_METHODS: Registry[AttributionMethod] = Registry("attribution method")
for _method in (DeepShap(), IntegratedGradients()):
    ATTRIBUTION_METHODS.register(_method.name, _method)


def choose_method(model: ExplainableModel, name: str = AUTO) -> AttributionMethod:
    """``auto``: DeepExplainer where it is exact, integrated gradients otherwise."""
    if name == AUTO:
        name = DeepShap.name if model.deep_exact else IntegratedGradients.name
    return ATTRIBUTION_METHODS.get(name)


def explain_frame(fitted: Fitted, df: "pd.DataFrame") -> Attributions:
    """Attributions of every row of ``df`` whose network input is finite."""
    started = time.perf_counter()
    x = np.asarray(fitted.model.encode(df), dtype=np.float32) if len(df) else None
    width = len(fitted.model.input_names)
    x = np.zeros((0, width), dtype=np.float32) if x is None else x
    finite = np.isfinite(x).all(axis=1)
    kept = np.flatnonzero(finite)
    inputs, outputs, baseline, evaluations = fitted.method.attribute(fitted, x[finite])
    targets = len(fitted.bound)
    inputs = inputs.reshape(len(kept), targets, width)
    outputs = outputs.reshape(len(kept), targets)
    errors = np.abs(baseline[None, :] + inputs.sum(axis=2) - outputs)
    decision = explain_target(fitted.model.spec).decision(outputs)
    return Attributions(values=sum_by_feature(inputs, fitted.columns), input_values=inputs,
                        outputs=outputs, baseline=np.asarray(baseline, dtype=np.float64),
                        errors=errors, bound=fitted.bound, decision=decision, kept=kept,
                        skipped=int(len(x) - len(kept)),
                        seconds=time.perf_counter() - started, evaluations=evaluations)


def _forward(model: ExplainableModel, x: np.ndarray) -> np.ndarray:
    """``[n, T]`` raw outputs of encoded rows through the network."""
    import torch

    with torch.inference_mode():
        out = model.network(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
                            .to(model.device))
    return as_targets(out.double().cpu().numpy())
