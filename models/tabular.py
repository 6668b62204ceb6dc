"""The tabular network of the demo models, and how it is trained.

:class:`TabularMLP` reads the float matrix of :class:`raigov.models.encoding.Preprocessor`:
standardised numerics and one-hot categoricals. Its first ``Linear`` layer over the
one-hot columns *is* an embedding (row ``k`` of the weight block of a feature is the
vector of category ``k``); feeding one-hot floats instead of integer codes to an
``nn.Embedding`` keeps SHAP's DeepExplainer additive, which fails its additivity
check on an embedding lookup. Each activation is its own module instance (DeepExplainer
attributes through module hooks and breaks on a reused module or ``F.relu``).

:func:`train_tabular` fits the preprocessor and the network with Adam on binary
cross-entropy, holding out a stratified validation split for early stopping. A seed
fixes everything (split, initialisation, shuffling, dropout), so the same seed gives
identical predictions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from raigov.models.encoding import Preprocessor
from raigov.models.spec import ModelSpec
from raigov.errors import ConfigError, did_you_mean

MSG_BAD_LABEL = "Label column {label!r} must hold only 0 and 1; found {found}"
MSG_BAD_OPTION = "Unknown training option {key!r} (options: {known}).{hint}"
MSG_NO_LABEL = "Label column {label!r} is not in the training data (columns: {columns})"


class TabularMLP(nn.Module):
    """An MLP over encoded tabular rows with one logit out, shape ``[n, 1]``.

    ``n_inputs`` is the encoded width; ``hidden`` the sizes of the hidden layers, each
    followed by its own ``ReLU`` and (when ``dropout`` > 0) ``Dropout``. The first
    layer acts as the categorical embeddings (see the module docstring)."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] | list[int] = (128, 64),
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.params = {"n_inputs": int(n_inputs), "hidden": [int(h) for h in hidden],
                       "dropout": float(dropout)}
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]  # a fresh ReLU per layer
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@dataclass(frozen=True)
class TrainConfig:
    """Training parameters. The defaults reach 0.86 accuracy and 0.914 ROC AUC on the
    Adult test split in about 5-10 s on one CPU thread; ``threads`` (None: leave torch's
    setting alone) is restored after training."""

    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.2
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-4
    numeric_bins: int = 16
    validation_fraction: float = 0.15
    patience: int = 5
    threads: int | None = 1


@dataclass(frozen=True)
class TrainingHistory:
    """What training did: validation loss per epoch, the epoch whose weights were kept,
    wall-clock seconds and the sizes of the two splits."""

    val_loss: tuple[float, ...]
    best_epoch: int
    seconds: float
    n_train: int
    n_val: int


@dataclass(frozen=True)
class TrainedModel:
    """A fitted preprocessor and network, ready to save as an artifact.

    ``architecture`` names the class in ``raigov.models.artifact.ARCHITECTURES`` and
    ``params`` its constructor arguments; a user's own module fits here too."""

    preprocessor: Preprocessor
    module: nn.Module
    architecture: str = "tabular_mlp"
    params: dict[str, Any] = field(default_factory=dict)
    history: TrainingHistory | None = None

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(positive class) for each row of ``df``, float64 ``[n]`` (the module is used
        as it is: :func:`train_tabular` leaves it in eval mode)."""
        x = self.preprocessor.transform(df)
        param = next(self.module.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        return sigmoid(predict_logits(self.module, x, device=device))


def predict_logits(module: nn.Module, x: np.ndarray, *, device: str | torch.device,
                   batch_size: int = 65536) -> np.ndarray:
    """Logits of the encoded matrix ``x`` as float64 ``[n]``. The module must already be
    in eval mode on ``device``; runs under ``torch.inference_mode`` (thread-safe)."""
    out = np.empty(len(x), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size]))
            logits = module(chunk.to(device, dtype=torch.float32))
            out[start:start + len(chunk)] = logits.reshape(-1).double().cpu().numpy()
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.exp(-np.logaddexp(0.0, -z))


def train_tabular(train_df: pd.DataFrame, *, spec: ModelSpec, label: str, seed: int = 0,
                  config: TrainConfig | None = None, **overrides: Any) -> TrainedModel:
    """Fit a preprocessor on ``spec.features`` and a :class:`TabularMLP` predicting
    ``label`` (0/1) from ``train_df``; early-stop on a stratified validation split.
    ``overrides`` replace fields of ``config`` (``epochs=10, hidden=(64,)``)."""
    config = _config(config or TrainConfig(), overrides)
    y = _labels(train_df, label)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    train_idx, val_idx = _stratified_split(y, config.validation_fraction, rng)
    with torch_threads(config.threads):
        torch.manual_seed(seed)
        pre = Preprocessor.fit(train_df.iloc[train_idx], spec.inputs, list(spec.features),
                               target=y[train_idx], numeric_bins=config.numeric_bins)
        x = torch.from_numpy(pre.transform(train_df))
        target = torch.from_numpy(y.astype(np.float32)).unsqueeze(1)
        module = TabularMLP(pre.n_encoded, config.hidden, config.dropout)
        losses, best_epoch = _fit(module, x, target, train_idx, val_idx, config=config,
                                  seed=seed)
    module.eval()
    history = TrainingHistory(tuple(losses), best_epoch, time.perf_counter() - started,
                              len(train_idx), len(val_idx))
    return TrainedModel(pre, module, "tabular_mlp", dict(module.params), history)


def _fit(module: nn.Module, x: torch.Tensor, y: torch.Tensor, train_idx: np.ndarray,
         val_idx: np.ndarray, *, config: TrainConfig, seed: int) -> tuple[list[float], int]:
    """Adam with mini-batches; keep the weights of the epoch with the lowest
    validation loss, stop after ``patience`` epochs without improvement."""
    opt = torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr = x[train_idx], y[train_idx]
    x_val, y_val = x[val_idx], y[val_idx]
    best, best_epoch, best_state, losses = math.inf, 0, None, []
    for epoch in range(config.epochs):
        module.train()
        order = torch.randperm(len(x_tr), generator=gen)
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(module(x_tr[batch]), y_tr[batch]).backward()
            opt.step()
        module.eval()
        with torch.inference_mode():
            losses.append(float(loss_fn(module(x_val), y_val)))
        if losses[-1] < best - 1e-5:
            best, best_epoch = losses[-1], epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return losses, best_epoch


def _config(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    known = [f.name for f in dataclasses.fields(TrainConfig)]
    for key in overrides:
        if key not in known:
            raise ConfigError(MSG_BAD_OPTION.format(key=key, known=", ".join(known),
                                                    hint=did_you_mean(key, known)))
    return dataclasses.replace(config, **overrides)


def _labels(df: pd.DataFrame, label: str) -> np.ndarray:
    if label not in df.columns:
        raise ConfigError(MSG_NO_LABEL.format(label=label, columns=list(df.columns)))
    y = df[label].to_numpy()
    found = sorted(pd.unique(y).tolist())
    if not set(found) <= {0, 1}:
        raise ConfigError(MSG_BAD_LABEL.format(label=label, found=found[:10]))
    return y.astype(np.int64)


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (train, validation); each class keeps its share in validation."""
    val = []
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        val.append(rng.permutation(idx)[:max(1, round(len(idx) * fraction))])
    val_idx = np.sort(np.concatenate(val))
    train_idx = np.setdiff1d(np.arange(len(y)), val_idx)
    return train_idx, val_idx


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (a small MLP trains fastest on one, and
    the machine is shared), restoring the previous setting afterwards."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
