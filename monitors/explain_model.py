"""What the explanations need of a loaded model, and the adapter of today's built-in one.

:class:`ExplainableModel` is the loaded-model interface (the artifact loaders make every
loaded model expose it): ``spec``; ``device``; ``forward(df)`` the raw float64 output
(``[N]``, ``[N, 1]`` or ``[N, K]``: logits or probabilities per ``spec.returns``,
values for regression); ``encode(df)`` the float32 network input ``[N, F']``;
``network`` a differentiable callable from a float32 tensor ``[N, F']`` to the raw
output tensor; ``input_names`` the ``F'`` input names; ``deep_exact`` (True only for
raigov's built-in ``TabularMLP``, where shap's DeepExplainer is exact); ``runnable``
(False for a model served elsewhere). A model may also expose ``feature_slices``
(feature -> its input columns, as the built-in one-hot encoding has); without it each
input named like a spec feature is that feature.

:func:`load_explainable` is the one place that turns an artifact directory into such a
model; :class:`BuiltinExplainable` adapts :class:`raigov.models.artifact.LoadedModel`
(module + ``Preprocessor``), and a directory holding no artifact files is a model
served elsewhere (:class:`ServedElsewhere`), and a model whose network reads token ids
rather than a feature tensor is a :class:`TokenIdModel` (explained by token
attributions: ``raigov.monitors.explain_tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from raigov.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.artifact import LoadedModel
    from raigov.models.spec import ModelSpec

SERVED_ELSEWHERE = "model {model!r} is served elsewhere: no network to explain"
NO_NETWORK = "model {model!r} has no artifact directory: no network to explain"
UNMATCHED_INPUTS = ("model {model!r}: network inputs {inputs} belong to no feature of the "
                    "spec (features: {features}); name each input after its feature or "
                    "expose feature_slices")
UNCOVERED_FEATURES = ("model {model!r}: features {missing} have no network input "
                      "(inputs: {inputs})")
NO_FEATURE_TENSOR = ("model {model!r} ({format}) reads token ids, not a feature tensor: "
                     "its explanations are token attributions")
ARTIFACT_FILES = ("weights.pt", "architecture.json", "preprocess.json", "model.pt2",
                  "text_model.json", "head.safetensors")


@runtime_checkable
class ExplainableModel(Protocol):
    """The loaded-model interface the explanations are built against."""

    spec: "ModelSpec"
    device: str
    network: Any
    input_names: tuple[str, ...]
    deep_exact: bool
    runnable: bool

    def forward(self, df: "pd.DataFrame") -> np.ndarray: ...

    def encode(self, df: "pd.DataFrame") -> np.ndarray: ...


@dataclass(frozen=True)
class BuiltinExplainable:
    """Today's built-in loaded model (a registered module over raigov's
    ``Preprocessor``) seen through :class:`ExplainableModel`."""

    spec: "ModelSpec"
    loaded: "LoadedModel"
    runnable: bool = True

    @property
    def device(self) -> str:
        return str(self.loaded.device)

    @property
    def network(self) -> Any:
        return self.loaded.module

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.loaded.preprocessor.encoded_names)

    @property
    def feature_slices(self) -> dict[str, list[int]]:
        return self.loaded.preprocessor.feature_slices

    @property
    def deep_exact(self) -> bool:
        from raigov.models.tabular import TabularMLP

        return type(self.loaded.module) is TabularMLP

    def encode(self, df: "pd.DataFrame") -> np.ndarray:
        return self.loaded.preprocessor.transform(df)

    def forward(self, df: "pd.DataFrame") -> np.ndarray:
        return self.loaded.logits(df)


@dataclass(frozen=True)
class ServedElsewhere:
    """A model without a network here (external, or no artifact at all)."""

    spec: "ModelSpec"
    reason: str
    device: str = "cpu"
    network: Any = None
    input_names: tuple[str, ...] = ()
    deep_exact: bool = False
    runnable: bool = False

    def forward(self, df: "pd.DataFrame") -> np.ndarray:
        raise ConfigError(self.reason)

    def encode(self, df: "pd.DataFrame") -> np.ndarray:
        raise ConfigError(self.reason)


@dataclass(frozen=True)
class TokenIdModel(ServedElsewhere):
    """A loaded model whose network reads token ids (``feature_tensor`` False, e.g. a
    ``text_head``): no feature attributions (``encode`` refuses, as for a model served
    elsewhere), but it runs; ``loaded`` has ``token_network``."""

    loaded: Any = None

    def forward(self, df: "pd.DataFrame") -> np.ndarray:
        return self.loaded.forward(df)


def load_explainable(artifact_dir: str | Path | None, spec: "ModelSpec", *,
                     device: str | None = None) -> ExplainableModel:
    """The model of ``artifact_dir`` as an :class:`ExplainableModel`. No directory, or
    one without any artifact file, is a model served elsewhere (not runnable); a
    broken artifact raises ConfigError naming the file."""
    if artifact_dir is None:
        return ServedElsewhere(spec, NO_NETWORK.format(model=spec.name))
    path = Path(artifact_dir)
    from raigov.models.artifacts import load_model
    from raigov.models.artifacts.builtin import BuiltinModel

    loaded = load_model(path, spec, device=device)
    if not loaded.runnable:
        return ServedElsewhere(spec, SERVED_ELSEWHERE.format(model=spec.name))
    if getattr(loaded, "feature_tensor", True) is False:   # e.g. a text model's token ids
        return TokenIdModel(spec, NO_FEATURE_TENSOR.format(model=spec.name,
                                                           format=loaded.format),
                            loaded=loaded)
    if isinstance(loaded, BuiltinModel):   # one-hot inputs summed back to features
        return BuiltinExplainable(spec, loaded)
    return loaded   # exported program or module class: inputs are the spec's features


def feature_columns(model: ExplainableModel) -> dict[str, list[int]]:
    """Each spec feature's network input columns (their attributions are summed)."""
    slices = getattr(model, "feature_slices", None)
    features = list(model.spec.features)
    if slices is not None:
        return {f: list(slices[f]) for f in features if f in slices}
    names = list(model.input_names)
    unmatched = [n for n in names if n not in features]
    if unmatched:
        raise ConfigError(UNMATCHED_INPUTS.format(model=model.spec.name, inputs=unmatched,
                                                  features=features))
    missing = [f for f in features if f not in names]
    if missing:
        raise ConfigError(UNCOVERED_FEATURES.format(model=model.spec.name, missing=missing,
                                                    inputs=names))
    return {f: [names.index(f)] for f in features}


def sum_by_feature(values: np.ndarray, columns: dict[str, list[int]]) -> np.ndarray:
    """``[..., F']`` input attributions summed to ``[..., F]`` features (a sum keeps
    completeness)."""
    return np.stack([values[..., cols].sum(axis=-1) for cols in columns.values()], axis=-1)
