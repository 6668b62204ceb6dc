"""A user's own code, as a user would write it (not raigov's classes): a tabular
network over raigov's float32 feature tensor, its training loop and its export.

The network reads the tensor of the export/module contract: numeric features as
values (standardised inside with constants from training), ``str`` features as the
index in ``allowed`` (one-hot inside), NaN for nulls (zeros after one-hot). The
server process of the module-format test imports this file, which registers the
class as the architecture ``adult_net``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from raigov.models.artifacts import register_architecture


class AdultNet(nn.Module):
    """``numeric``: per column ``[mean, std]`` or None for a categorical column with
    ``cardinality[j]`` categories; ``outputs``: 1 (binary, regression) or K."""

    def __init__(self, kinds: list[int], means: list[float], stds: list[float],
                 outputs: int, hidden: int = 32, sigmoid: bool = False) -> None:
        super().__init__()
        self.kinds = list(kinds)          # 0: numeric; k > 0: categorical with k categories
        self.register_buffer("means", torch.tensor(means, dtype=torch.float32))
        self.register_buffer("stds", torch.tensor(stds, dtype=torch.float32))
        width = sum(1 if k == 0 else k for k in kinds)
        self.body = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, outputs))
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for j, k in enumerate(self.kinds):
            col = x[:, j:j + 1]
            if k == 0:
                parts.append(torch.nan_to_num((col - self.means[j]) / self.stds[j]))
            else:  # NaN equals no index: an all-zero one-hot row
                parts.append((col == torch.arange(k, dtype=x.dtype)).to(x.dtype))
        out = self.body(torch.cat(parts, dim=1))
        return torch.sigmoid(out) if self.sigmoid else out


register_architecture("adult_net", AdultNet)


def encode(frame, columns: list[tuple[str, list[str] | None]]) -> np.ndarray:
    """The user's own encoding of the contract (independent of raigov's): values, or
    the index in ``allowed``; NaN for nulls."""
    out = np.full((len(frame), len(columns)), np.nan, dtype=np.float32)
    for j, (name, allowed) in enumerate(columns):
        for i, value in enumerate(frame[name].tolist()):
            if value is None or value != value:
                continue
            out[i, j] = allowed.index(value) if allowed is not None else float(value)
    return out


def make_net(x: np.ndarray, columns: list[tuple[str, list[str] | None]], outputs: int,
             sigmoid: bool = False) -> tuple[AdultNet, dict]:
    kinds = [0 if allowed is None else len(allowed) for _, allowed in columns]
    means = [float(np.nanmean(x[:, j])) if k == 0 else 0.0 for j, k in enumerate(kinds)]
    stds = [float(np.nanstd(x[:, j]) or 1.0) if k == 0 else 1.0 for j, k in enumerate(kinds)]
    params = {"kinds": kinds, "means": means, "stds": stds, "outputs": outputs,
              "sigmoid": sigmoid}
    return AdultNet(**params), params


def train(net: AdultNet, x: np.ndarray, y: np.ndarray, loss: str, *, epochs: int = 2,
          seed: int = 0) -> AdultNet:
    """A brief Adam fit: cross-entropy (``ce``), BCE on the logit (``bce``) or MSE."""
    torch.manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    fns = {"ce": nn.CrossEntropyLoss(), "bce": nn.BCEWithLogitsLoss(), "mse": nn.MSELoss()}
    for _ in range(epochs):
        order = torch.randperm(len(xs))
        for start in range(0, len(xs), 256):
            idx = order[start:start + 256]
            opt.zero_grad()
            out = net(xs[idx])
            target = ys[idx]
            if loss != "ce":
                out = out[:, 0]
            fns[loss](out, target).backward()
            opt.step()
    return net.eval()


def export(net: AdultNet, n_features: int, path) -> None:
    program = torch.export.export(net.eval(), (torch.zeros(8, n_features),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
