"""shap's DeepExplainer on a network's raw output, and the helpers every attribution
method shares (seeded samples, a frame's fingerprint).

DeepExplainer (Deep SHAP: DeepLIFT's rescale rule averaged over a background sample)
is exact on raigov's built-in ``TabularMLP`` (one-hot inputs, an activation module per
layer): ``base_value + values.sum() == output`` for every row, where ``base_value`` is
the mean output over the background. It hooks every layer while it explains, so it
runs on a private copy of the module, one ``shap_values`` call at a time (a lock), on
one intra-op thread on CPU. It breaks on functional activations and ``torch.export``
graphs: those models get integrated gradients (``raigov.monitors.attribution_ig``).

"""

from __future__ import annotations

import copy
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from raigov.errors import InputError, RaigovError
from raigov.monitors.counts import make_rng

METHOD = "shap.DeepExplainer"
ADDITIVITY_TOLERANCE = 1e-4
DEFAULT_BACKGROUND = 200
FINGERPRINT_ROWS = 2048

MSG_EMPTY_BACKGROUND = ("The reference holds no rows with finite network inputs, so the "
                        "explanation has no background sample (at least 1 row is needed).")


class AdditivityError(RaigovError):
    """An explanation's values do not add up to the model's output."""

    exit_code = 1


@dataclass(frozen=True)
class DeepFit:
    """A DeepExplainer fitted on a background matrix; ``base_values`` ``[T]`` is the
    mean raw output over it."""

    explainer: Any
    module: Any
    base_values: np.ndarray
    device: str
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def fit_deep(network: Any, background: np.ndarray, *, device: str) -> DeepFit:
    """DeepExplainer on a private copy of ``network`` over ``background`` ``[B, F']``."""
    import shap
    import torch

    module = copy.deepcopy(network).eval()
    rows = torch.from_numpy(np.ascontiguousarray(background, dtype=np.float32)).to(device)
    explainer = shap.DeepExplainer(module, rows)
    base = np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)
    return DeepFit(explainer, module, base, str(device))


def deep_values(fit: DeepFit, x: np.ndarray) -> np.ndarray:
    """``[n, T, F']`` float64 SHAP values of the encoded rows ``x``."""
    import torch

    from raigov.models.tabular import torch_threads

    targets = len(fit.base_values)
    if len(x) == 0:
        return np.zeros((0, targets, x.shape[1]), dtype=np.float64)
    rows = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(fit.device)
    # One intra-op thread on CPU: DeepExplainer runs many small backward passes, where
    # OpenMP threads only spin (measured 3-4x slower with 2 threads on a busy 2-core
    # machine). shap differentiates through the module: grad on, even inside no_grad.
    threads = 1 if fit.device == "cpu" else None
    with fit.lock, torch_threads(threads), torch.inference_mode(False), torch.enable_grad():
        raw = fit.explainer.shap_values(rows, check_additivity=False)
    values = np.asarray(raw, dtype=np.float64).reshape(len(x), x.shape[1], targets)
    return values.transpose(0, 2, 1)


def sample_frame(df: pd.DataFrame, *, size: int, seed: int, key: str) -> pd.DataFrame:
    """A seeded sample of at most ``size`` rows; ``key`` separates independent draws
    (background, window, reference) made with the same seed."""
    if len(df) <= size:
        return df
    return df.sample(n=size, random_state=make_rng(seed, key))


def background_matrix(encode: Any, reference: pd.DataFrame, *, size: int,
                      seed: int) -> np.ndarray:
    """The encoded seeded background sample, rows with non-finite inputs left out."""
    rows = sample_frame(reference, size=size, seed=seed, key="explain:background")
    x = np.asarray(encode(rows), dtype=np.float32) if len(rows) else np.zeros((0, 0))
    x = x[np.isfinite(x).all(axis=1)] if len(x) else x
    if len(x) == 0:
        raise InputError(MSG_EMPTY_BACKGROUND)
    return x


def frame_fingerprint(df: pd.DataFrame) -> str:
    """A content hash of a frame: its shape, columns and up to 2,048 evenly strided rows
    (a registered version's reference never changes, so this tells references apart
    without hashing a million rows on every window)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((df.shape, list(df.columns))).encode())
    step = max(1, len(df) // FINGERPRINT_ROWS)
    sample = df.iloc[::step]
    listed = [c for c in sample.columns if sample[c].dtype == object
              and sample[c].map(lambda v: isinstance(v, (list, np.ndarray))).any()]
    if listed:   # array cells (a multiclass reference's probabilities): hash their text
        sample = sample.assign(**{c: sample[c].map(lambda v: repr(np.asarray(v).tolist()))
                                  for c in listed})
    digest.update(pd.util.hash_pandas_object(sample, index=False).to_numpy().tobytes())
    return digest.hexdigest()
