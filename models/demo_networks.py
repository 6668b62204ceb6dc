"""The demo's networks over the feature-tensor contract, exported with ``torch.export``
as a user's own would be: ``hours-estimator`` (regression) and ``job-sector``
(multiclass), both on Adult.

The network reads the float32 ``[N, F]`` tensor of
:mod:`raigov.models.artifacts.feature_tensor` (numeric values, a category as its index
in the column's ``allowed`` list, NaN for nulls) and does its own preprocessing:
heavy-tailed counts through ``log1p``, numbers standardised with constants from
training (a null becomes the training mean), categories one-hot (a null is an all-zero
row). A regression network ends with the target's scale and shift, so it trains on a
standardised target and answers in the target's units. Training is seeded, on one
torch thread, with early stopping on a seeded 15% validation split: the same seed
gives the same weights.

torch is imported inside the functions, so listing the demo models stays cheap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from raigov.models.spec import ModelSpec

PROGRAM_FILE = "model.pt2"
LOG_COLUMNS = ("capital_gain", "capital_loss")   # log1p before standardising
UNKNOWN_LOSS = "Unknown training loss {name!r} for demo network {model!r} (known: {known})."


@dataclass(frozen=True)
class NetworkConfig:
    """Training parameters of a demo network (one CPU thread, a few seconds)."""

    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 3e-3
    weight_decay: float = 1e-5
    validation_fraction: float = 0.15
    patience: int = 4
    threads: int | None = 1
    loss: str = "mse"          # "mse" (regression) or "cross_entropy" (classes)


@dataclass
class TrainedNetwork:
    """A trained network with the spec it reads its tensor by, and what training did
    (validation loss per epoch, the epoch kept, seconds)."""

    spec: "ModelSpec"
    module: "nn.Module"
    val_loss: tuple[float, ...]
    best_epoch: int
    seconds: float

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        from raigov.models.artifacts.feature_tensor import FeatureTensor

        return FeatureTensor(self.spec, format="export").encode(as_sent(df))

    def forward(self, df: pd.DataFrame) -> np.ndarray:
        """The eager module's raw output (values or logits), float64."""
        import torch

        with torch.inference_mode():
            out = self.module(torch.from_numpy(self.encode(df)))
        return out.double().numpy()

    def export(self, directory: str | Path) -> Path:
        """Write ``model.pt2`` (a ``torch.export`` program with a dynamic batch) into
        ``directory``; returns the file."""
        import torch

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        example = (torch.zeros(8, len(self.spec.features)),)
        program = torch.export.export(self.module.eval(), example,
                                      dynamic_shapes=({0: torch.export.Dim("batch")},))
        torch.export.save(program, str(path / PROGRAM_FILE))
        return path / PROGRAM_FILE


def as_sent(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns as a client sends them: Python objects, None for a null (pandas'
    own ``string`` dtype holds ``pd.NA``, which the tensor encoder does not read)."""
    out = df.copy()
    for name in out.columns:
        if pd.api.types.is_string_dtype(out[name]) and out[name].dtype != object:
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def _network_class() -> type:
    from torch import nn
    import torch

    class TabularNet(nn.Module):
        """``kinds[j]``: 0 for a numeric feature, else its number of categories;
        ``logs[j]``: log1p before standardising; ``outputs``: 1 or K."""

        def __init__(self, kinds: list[int], logs: list[bool], means: list[float],
                     stds: list[float], outputs: int, hidden: tuple[int, ...],
                     shift: float = 0.0, scale: float = 1.0) -> None:
            super().__init__()
            self.kinds, self.logs = list(kinds), list(logs)
            self.register_buffer("means", torch.tensor(means, dtype=torch.float32))
            self.register_buffer("stds", torch.tensor(stds, dtype=torch.float32))
            self.register_buffer("shift", torch.tensor(shift, dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
            layers: list[nn.Module] = []
            width = sum(1 if k == 0 else k for k in kinds)
            for size in hidden:
                layers += [nn.Linear(width, size), nn.ReLU()]
                width = size
            layers.append(nn.Linear(width, outputs))
            self.body = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = []
            for j, k in enumerate(self.kinds):
                col = x[:, j:j + 1]
                if k == 0:
                    if self.logs[j]:
                        col = torch.log1p(torch.clamp(col, min=0.0))
                    parts.append(torch.nan_to_num((col - self.means[j]) / self.stds[j]))
                else:
                    parts.append((col == torch.arange(k, dtype=x.dtype)).to(x.dtype))
            return self.body(torch.cat(parts, dim=1)) * self.scale + self.shift

    return TabularNet


def build_network(spec: "ModelSpec", x: np.ndarray, y: np.ndarray, *,
                  config: NetworkConfig) -> "nn.Module":
    """A fresh network for ``spec`` with its constants taken from the training tensor
    ``x`` and target ``y`` (values, or class indices)."""
    kinds, logs, means, stds = [], [], [], []
    for j, name in enumerate(spec.features):
        column = spec.inputs.column(name)
        k = len(column.allowed) if column.dtype == "str" and column.allowed else 0
        log = k == 0 and name in LOG_COLUMNS
        values = np.log1p(np.clip(x[:, j], 0, None)) if log else x[:, j]
        kinds.append(k)
        logs.append(log)
        means.append(float(np.nanmean(values)) if k == 0 else 0.0)
        stds.append(float(np.nanstd(values) or 1.0) if k == 0 else 1.0)
    loss = _loss(config.loss, spec)
    shift, scale = loss.target_scale(y)
    return _network_class()(kinds, logs, means, stds, loss.outputs(spec), config.hidden,
                            shift, scale)


class _SquaredError:
    """Regression: mean squared error on the standardised target."""

    def outputs(self, spec: "ModelSpec") -> int:
        return 1

    def target_scale(self, y: np.ndarray) -> tuple[float, float]:
        return float(np.mean(y)), float(np.std(y) or 1.0)

    def target(self, y: np.ndarray) -> "torch.Tensor":
        import torch

        return torch.from_numpy(y.astype(np.float32)).unsqueeze(1)

    def __call__(self, out: "torch.Tensor", y: "torch.Tensor", net: Any) -> "torch.Tensor":
        from torch.nn import functional as F

        return F.mse_loss(out / net.scale, y / net.scale)


class _CrossEntropy:
    """Classes: cross-entropy of the logits, one per class in ``spec.classes`` order."""

    def outputs(self, spec: "ModelSpec") -> int:
        return len(spec.classes)

    def target_scale(self, y: np.ndarray) -> tuple[float, float]:
        return 0.0, 1.0

    def target(self, y: np.ndarray) -> "torch.Tensor":
        import torch

        return torch.from_numpy(y.astype(np.int64))

    def __call__(self, out: "torch.Tensor", y: "torch.Tensor", net: Any) -> "torch.Tensor":
        from torch.nn import functional as F

        return F.cross_entropy(out, y)


LOSSES: dict[str, Any] = {"mse": _SquaredError(), "cross_entropy": _CrossEntropy()}


def _loss(name: str, spec: "ModelSpec") -> Any:
    if name not in LOSSES:
        raise ConfigError(UNKNOWN_LOSS.format(name=name, model=spec.name,
                                              known=", ".join(LOSSES)))
    return LOSSES[name]


def train_network(rows: pd.DataFrame, *, spec: "ModelSpec", seed: int = 0,
                  config: NetworkConfig | None = None) -> TrainedNetwork:
    """Train a network for ``spec`` on ``rows`` (the features and ``y_true``: class
    index or value), early-stopping on a seeded validation split."""
    import torch

    from raigov.models.tabular import torch_threads

    config = config or NetworkConfig()
    started = time.perf_counter()
    encoded = TrainedNetwork(spec, None, (), 0, 0.0).encode(rows)  # type: ignore[arg-type]
    y = rows["y_true"].to_numpy()
    order = np.random.default_rng(seed).permutation(len(rows))
    n_val = max(1, round(len(rows) * config.validation_fraction))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    with torch_threads(config.threads):
        torch.manual_seed(seed)
        net = build_network(spec, encoded[train_idx], y[train_idx], config=config)
        losses, best = _fit(net, torch.from_numpy(encoded), _loss(config.loss, spec).target(y),
                            train_idx, val_idx, config=config, spec=spec, seed=seed)
    net.eval()
    return TrainedNetwork(spec, net, tuple(losses), best, time.perf_counter() - started)


def _fit(net: Any, x: "torch.Tensor", y: "torch.Tensor", train_idx: np.ndarray,
         val_idx: np.ndarray, *, config: NetworkConfig, spec: "ModelSpec",
         seed: int) -> tuple[list[float], int]:
    """Adam with mini-batches; keep the weights of the epoch with the lowest
    validation loss, stop after ``patience`` epochs without improvement."""
    import torch

    loss_fn = _loss(config.loss, spec)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    x_tr, y_tr, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    best, best_epoch, best_state, losses = math.inf, 0, None, []
    for epoch in range(config.epochs):
        net.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        for start in range(0, len(perm), config.batch_size):
            batch = perm[start:start + config.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x_tr[batch]), y_tr[batch], net).backward()
            opt.step()
        net.eval()
        with torch.inference_mode():
            losses.append(float(loss_fn(net(x_val), y_val, net)))
        if losses[-1] < best - 1e-5:
            best, best_epoch = losses[-1], epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return losses, best_epoch
