"""SHAP explanations of a tabular torch model, in logit space, per original feature.

:func:`build_explainer` fits shap's ``DeepExplainer`` (Deep SHAP: DeepLIFT's rescale
rule averaged over a background sample) on a seeded sample of the reference rows;
:func:`explain_rows` explains rows with it. The explained output is the network's
**logit** (log-odds of the positive class), not the probability: additivity holds in
logit space, ``base_value + values.sum(axis=1) == logits``, where ``base_value`` is the
mean logit over the background sample. Every explanation carries its own check, the
largest ``|base_value + sum - logit|`` over its rows against the served model's logit
(:data:`ADDITIVITY_TOLERANCE`, stricter than shap's own 0.01, which is switched off).

SHAP is computed on the encoded matrix (standardised numerics, their bin columns,
one-hot categoricals) and summed over each original feature's columns
(``Preprocessor.feature_slices``); a sum keeps additivity. The explainer runs where the
model lives (``LoadedModel.device``: CUDA when available, else CPU) on a private copy of
the module, since shap hooks every layer while it explains. One ``shap_values`` call at
a time per explainer (a lock), because those hooks are shared state.

:func:`explain_prediction` answers "why this decision?" for one row; fitted explainers
are cached per artifact directory, reference, background size, seed and device.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.monitors.counts import make_rng
from raigov.errors import InputError, RaigovError

if TYPE_CHECKING:
    from torch import nn

    from raigov.models.artifact import LoadedModel

OUTPUT = "logit"
OUTPUT_MEANING = ("SHAP values explain the model's logit (log-odds of the positive class): "
                  "base value + sum of a row's values = the row's logit")
METHOD = "shap.DeepExplainer"
ADDITIVITY_TOLERANCE = 1e-4
DEFAULT_BACKGROUND = 200
CACHE_SIZE = 8

MSG_EMPTY_BACKGROUND = ("The reference holds no rows, so SHAP has no background sample "
                        "(DeepExplainer needs at least 1 reference row).")
MSG_NOT_ONE_LOGIT = ("DeepExplainer explains a module with one output column (the logit); "
                     "this model's module gives shape {shape} for {n} background rows.")
MSG_ADDITIVITY = ("SHAP values do not add up to the model's logit: max |base value + sum "
                  "- logit| over {n} rows is {error:.3g}, above the tolerance {tolerance:g}.")


class AdditivityError(RaigovError):
    """An explanation's values do not add up to the model's output."""

    exit_code = 1


@dataclass(frozen=True)
class FittedExplainer:
    """A DeepExplainer fitted on ``background_size`` reference rows; ``base_value`` is
    their mean logit. ``memo`` keeps results derived from this explainer (such as the
    reference sample's importance) for as long as the explainer is cached."""

    explainer: Any
    module: "nn.Module"
    base_value: float
    background_size: int
    seed: int
    device: str
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Explanation:
    """SHAP values of ``n`` rows in logit space.

    ``values[i, j]``: contribution of original feature ``feature_names[j]`` to row
    ``i``'s logit; ``encoded_values`` the same per encoded column (``encoded_names``).
    ``max_additivity_error`` is ``max_i |base_value + values[i].sum() - logits[i]|``."""

    values: np.ndarray
    encoded_values: np.ndarray
    base_value: float
    logits: np.ndarray
    feature_names: tuple[str, ...]
    encoded_names: tuple[str, ...]
    max_additivity_error: float
    device: str
    output: str = OUTPUT

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def additive(self) -> bool:
        return self.max_additivity_error <= ADDITIVITY_TOLERANCE

    def importance(self) -> np.ndarray:
        """Mean |SHAP| per feature over the rows, ``[n_features]``."""
        return np.abs(self.values).mean(axis=0)

    def check_additivity(self) -> None:
        """Raise :class:`AdditivityError` when the values miss the logits."""
        if not self.additive:
            raise AdditivityError(MSG_ADDITIVITY.format(
                n=self.n, error=self.max_additivity_error, tolerance=ADDITIVITY_TOLERANCE))


def sample_frame(df: pd.DataFrame, *, size: int, seed: int, key: str) -> pd.DataFrame:
    """A seeded sample of at most ``size`` rows; ``key`` separates independent draws
    (background, window, reference) made with the same seed."""
    if len(df) <= size:
        return df
    return df.sample(n=size, random_state=make_rng(seed, key))


def build_explainer(loaded: "LoadedModel", background_df: pd.DataFrame, *, seed: int,
                    background_size: int = DEFAULT_BACKGROUND) -> FittedExplainer:
    """Fit DeepExplainer on a seeded sample of ``background_size`` rows of
    ``background_df`` (the reference), on ``loaded.device``."""
    import shap
    import torch

    if len(background_df) == 0:
        raise InputError(MSG_EMPTY_BACKGROUND)
    rows = sample_frame(background_df, size=background_size, seed=seed,
                        key="explain:background")
    background = torch.from_numpy(loaded.preprocessor.transform(rows)).to(loaded.device)
    module = copy.deepcopy(loaded.module).eval()
    with torch.no_grad():
        shape = tuple(module(background).shape)
    if len(shape) != 2 or shape[1] != 1:
        raise InputError(MSG_NOT_ONE_LOGIT.format(shape=shape, n=len(rows)))
    explainer = shap.DeepExplainer(module, background)
    base = float(np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)[0])
    return FittedExplainer(explainer=explainer, module=module, base_value=base,
                           background_size=len(rows), seed=seed, device=str(loaded.device))


def explain_rows(explainer: FittedExplainer, loaded: "LoadedModel",
                 df: pd.DataFrame) -> Explanation:
    """SHAP values of every row of ``df``, per encoded column and per feature, with the
    model's logits and the largest additivity error."""
    pre = loaded.preprocessor
    x = pre.transform(df)
    encoded = _deep_shap(explainer, x)
    values = np.zeros((len(x), len(pre.features)), dtype=np.float64)
    for j, feature in enumerate(pre.features):
        values[:, j] = encoded[:, pre.feature_slices[feature]].sum(axis=1)
    logits = loaded.logits_encoded(x) if len(x) else np.zeros(0)
    errors = np.abs(explainer.base_value + values.sum(axis=1) - logits)
    return Explanation(values=values, encoded_values=encoded, base_value=explainer.base_value,
                       logits=logits, feature_names=tuple(pre.features),
                       encoded_names=tuple(pre.encoded_names),
                       max_additivity_error=float(errors.max()) if len(errors) else 0.0,
                       device=explainer.device)


def _deep_shap(explainer: FittedExplainer, x: np.ndarray) -> np.ndarray:
    """``[n, n_encoded]`` float64 SHAP values of the encoded rows ``x``."""
    import torch

    from raigov.models.tabular import torch_threads

    if len(x) == 0:
        return np.zeros(x.shape, dtype=np.float64)
    rows = torch.from_numpy(x).to(explainer.device)
    # One intra-op thread on CPU: DeepExplainer runs many small backward passes, where
    # OpenMP threads only spin (measured 3-4x slower with 2 threads on a busy 2-core
    # machine). shap differentiates through the module: grad on, even inside no_grad.
    threads = 1 if str(explainer.device) == "cpu" else None
    with explainer.lock, torch_threads(threads), torch.inference_mode(False), \
            torch.enable_grad():
        raw = explainer.explainer.shap_values(rows, check_additivity=False)
    return np.asarray(raw, dtype=np.float64).reshape(x.shape)


_CACHE: OrderedDict[tuple[Any, ...], tuple["LoadedModel", FittedExplainer]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def cached_explainer(artifact_dir: str | Path, *, reference: pd.DataFrame, seed: int = 0,
                     background_size: int = DEFAULT_BACKGROUND, device: str | None = None,
                     ) -> tuple["LoadedModel", FittedExplainer]:
    """The loaded model and its fitted explainer, built once per artifact directory
    (and its weights file's state), reference, background size, seed and device."""
    from raigov.models.artifact import WEIGHTS_FILE, load_artifact

    path = Path(artifact_dir).resolve()
    weights = path / WEIGHTS_FILE
    stamp = (weights.stat().st_mtime_ns, weights.stat().st_size) if weights.exists() else None
    key = (str(path), stamp, device, background_size, seed, frame_fingerprint(reference))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    loaded = load_artifact(path, device=device)
    entry = (loaded, build_explainer(loaded, reference, seed=seed,
                                     background_size=background_size))
    with _CACHE_LOCK:
        _CACHE[key] = entry
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return entry


def clear_explainer_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


FINGERPRINT_ROWS = 2048


def frame_fingerprint(df: pd.DataFrame) -> str:
    """A content hash of a frame: its shape, columns and up to 2,048 evenly strided rows
    (a registered version's reference never changes, so this tells references apart
    without hashing a million rows on every window)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((df.shape, list(df.columns))).encode())
    step = max(1, len(df) // FINGERPRINT_ROWS)
    digest.update(pd.util.hash_pandas_object(df.iloc[::step], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def explain_prediction(artifact_dir: str | Path, row: dict[str, Any] | pd.Series, *,
                       reference: pd.DataFrame, seed: int = 0,
                       background_size: int = DEFAULT_BACKGROUND,
                       device: str | None = None) -> dict[str, Any]:
    """Why one decision: the base value (mean background logit), each feature's
    contribution to this row's logit sorted by |value|, the input values, the logit
    and the probability. Contributions sum to ``logit - base_value``."""
    loaded, explainer = cached_explainer(artifact_dir, reference=reference, seed=seed,
                                         background_size=background_size, device=device)
    frame = pd.DataFrame([dict(row)])
    explanation = explain_rows(explainer, loaded, frame)
    explanation.check_additivity()
    inputs = {f: _plain(frame[f].iloc[0]) for f in explanation.feature_names}
    order = np.argsort(-np.abs(explanation.values[0]), kind="stable")
    contributions = [{"feature": explanation.feature_names[j],
                      "value": inputs[explanation.feature_names[j]],
                      "shap": float(explanation.values[0, j])} for j in order]
    logit = float(explanation.logits[0])
    return {"output": OUTPUT, "output_meaning": OUTPUT_MEANING, "method": METHOD,
            "base_value": explanation.base_value, "logit": logit,
            "probability": float(np.exp(-np.logaddexp(0.0, -logit))),
            "contributions": contributions, "inputs": inputs,
            "max_additivity_error": explanation.max_additivity_error,
            "background_size": explainer.background_size, "device": explanation.device}


def _plain(value: Any) -> Any:
    """A JSON-friendly input value: numpy scalars to Python, missing to None."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
