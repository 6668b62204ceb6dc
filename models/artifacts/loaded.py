"""The one interface every loaded model satisfies, whatever its artifact format.

Serving, registration (reference predictions) and the monitors (explanations) are
written against :class:`LoadedModel` only:

========================= ==============================================================
``spec``                  the :class:`~raigov.models.spec.ModelSpec` it was loaded for
``device``                the torch device the network lives on (``"cpu"``, ``"cuda"``)
``runnable``              False for an external model (no network here; every method
                          below that runs it raises :class:`NotRunnableError`)
``forward(df)``           the raw output, float64 ``[N]``, ``[N, 1]`` or ``[N, K]``:
                          logits or probabilities (per ``spec.returns``) for
                          classifiers, values for regression; thread-safe, under
                          ``torch.inference_mode``
``encode(df)``            the network's input, float32 ``[N, F']``
``network``               a callable (an ``nn.Module`` or an exported program's module)
                          taking a float32 tensor ``[N, F']`` on ``device`` and
                          returning the raw output tensor; differentiable
``input_names``           the names of the ``F'`` network inputs
``deep_exact``            True only where shap's DeepExplainer is exact (the built-in
                          ``TabularMLP``); use gradient-based attributions otherwise
``format``                the artifact format's name (``builtin``, ``export``,
                          ``module``, ``text_head``, ``external``)
========================= ==============================================================

A model that reads text may also carry ``text_stats`` (a
:class:`~raigov.models.artifacts.text_head.TextStats`: tokens, padding and encoder
seconds), which ``raigov serve`` reports on ``/metrics``.

``forward(df) == network(encode(df))`` (as float64), so an explainer may attribute
either. The helpers here run a network in chunks and pick the default device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from raigov.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec

NOT_RUNNABLE = ("Model {model!r} is external (served by another stack): raigov holds no "
                "network for it, so it cannot {action}. Log its predictions with "
                "POST /v1/models/{model}/log instead.")
FORWARD_FAILED = ("Model {model!r} ({format} artifact) failed on a float32 input of shape "
                  "{shape}: {error}")
NOT_ONE_TENSOR = ("Model {model!r} ({format} artifact) returned {got}; it must return one "
                  "tensor")
CHUNK_ROWS = 65536


class NotRunnableError(ConfigError):
    """Something tried to run a model that has no network here (an external model)."""


@runtime_checkable
class LoadedModel(Protocol):
    """A model ready to answer (see the module docstring for each member)."""

    @property
    def spec(self) -> "ModelSpec | None": ...
    @property
    def device(self) -> str: ...
    @property
    def runnable(self) -> bool: ...
    @property
    def deep_exact(self) -> bool: ...
    @property
    def format(self) -> str: ...
    @property
    def network(self) -> Any: ...
    @property
    def input_names(self) -> list[str]: ...
    def forward(self, df: "pd.DataFrame") -> np.ndarray: ...
    def encode(self, df: "pd.DataFrame") -> np.ndarray: ...


def default_device(device: str | None) -> str:
    """``device`` as given, else ``cuda`` when available, else ``cpu``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_network(network: Callable[[Any], Any], x: np.ndarray, *, device: str,
                model: str = "?", format: str = "?", chunk_rows: int = CHUNK_ROWS,
                ) -> np.ndarray:
    """``network`` on the float32 matrix ``x`` in chunks, under ``torch.inference_mode``;
    the raw output as float64 with the network's own shape (``[N]``, ``[N, 1]`` or
    ``[N, K]``). A failure is a :class:`ConfigError` naming the model and the shape."""
    import torch

    parts: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, max(len(x), 1), chunk_rows):
            chunk = torch.from_numpy(np.ascontiguousarray(x[start:start + chunk_rows]))
            try:
                out = network(chunk.to(device, dtype=torch.float32))
            except Exception as exc:  # noqa: BLE001 - a user's program: any error is theirs
                raise ConfigError(FORWARD_FAILED.format(
                    model=model, format=format, shape=list(chunk.shape),
                    error=str(exc).strip().splitlines()[0] if str(exc).strip() else
                    type(exc).__name__)) from exc
            parts.append(_one_tensor(out, model, format).detach().double().cpu().numpy())
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def _one_tensor(out: Any, model: str, format: str) -> Any:
    import torch

    if isinstance(out, Sequence) and not isinstance(out, torch.Tensor) and len(out) == 1:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ConfigError(NOT_ONE_TENSOR.format(model=model, format=format,
                                                got=type(out).__name__))
    return out
