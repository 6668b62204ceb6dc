"""Integrated gradients (Sundararajan et al. 2017) with adaptive quadrature whose error
is measured exactly.

For a row ``x``, a baseline ``x'`` and the straight path ``g(a) = x' + a (x - x')``,
input ``j`` gets ``phi_j = (x_j - x'_j) * integral_0^1 df/dx_j(g(a)) da``; by the
fundamental theorem of calculus the ``phi`` sum to ``f(x) - f(x')`` (completeness).

The integral is a composite midpoint rule on an adaptive partition of ``[0, 1]``. On a
segment ``[a, b]`` the rule's estimate of the output's change,
``(x - x') . grad f(g((a + b) / 2)) * (b - a)``, is compared with the change itself,
``f(g(b)) - f(g(a))`` (two forward values, both known): the segment is accepted when
they differ by at most ``tolerance * (b - a)`` for every explained output, and split in
two otherwise, down to ``max_depth`` halvings. On a piecewise-linear network (ReLU,
linear interpolation) a segment without a kink is exact, so the work goes where the
path crosses kinks. The accepted segments' misses add up to the row's completeness
error ``|f(x') + sum(phi) - f(x)|``: at most ``tolerance`` plus, for each kink, its
change of slope times ``2**-max_depth / initial_segments`` (a segment holding a kink
is halved down to ``max_depth``). A network that is not continuous in its inputs (an
embedding lookup on a categorical index) misses by the jump: every row's error is
measured and returned, and the callers hold it to a bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FLOAT32_SLACK = 4 * 2.0 ** -23  # float32 roundoff of the outputs and the gradient terms


@dataclass(frozen=True)
class PathAttributions:
    """Integrated gradients of ``n`` rows to ``T`` outputs over ``F'`` inputs."""

    values: np.ndarray            # [n, T, F'] float64
    outputs: np.ndarray           # [n, T] f(x)
    baseline_outputs: np.ndarray  # [T] f(x')
    errors: np.ndarray            # [n, T] |f(x') + sum(values) - f(x)|
    evaluations: np.ndarray       # [n] network evaluations spent on each row


def integrated_gradients(network: Any, x: np.ndarray, baseline: np.ndarray, *,
                         tolerance: np.ndarray, device: str = "cpu",
                         initial_segments: int = 8, max_depth: int = 12,
                         max_points: int = 16384) -> PathAttributions:
    """Integrated gradients of every row of ``x`` ``[n, F']`` from ``baseline`` ``[F']``
    (finite values only), each output ``t`` held to ``tolerance[t]``."""
    import torch

    with torch.inference_mode(False), torch.enable_grad():
        return _integrate(network, x, baseline, np.asarray(tolerance, dtype=np.float64),
                          device=device, m0=initial_segments, max_depth=max_depth,
                          max_points=max_points)


def _integrate(network: Any, x: np.ndarray, baseline: np.ndarray, tol: np.ndarray, *,
               device: str, m0: int, max_depth: int, max_points: int) -> PathAttributions:
    import torch

    n, width = x.shape
    x0 = torch.as_tensor(np.asarray(baseline, dtype=np.float32), device=device)
    delta = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device) - x0
    grid = np.repeat(np.arange(m0 + 1)[None, :] / m0, n, axis=0)              # [n, m0+1]
    f_grid = _outputs(network, x0, delta, np.repeat(np.arange(n), m0 + 1),
                      grid.reshape(-1), max_points).reshape(n, m0 + 1, -1)
    outputs, base = f_grid[:, -1, :], f_grid[0, 0, :]
    seg = {"pid": np.repeat(np.arange(n), m0), "a": grid[:, :-1].reshape(-1),
           "length": np.full(n * m0, 1.0 / m0),
           "fa": f_grid[:, :-1, :].reshape(n * m0, -1), "fb": f_grid[:, 1:, :].reshape(n * m0, -1)}
    values = np.zeros((n, outputs.shape[1], width), dtype=np.float64)
    evaluations = np.zeros(n, dtype=np.int64)
    steps = delta.double().cpu().numpy()
    for depth in range(max_depth + 1):
        if len(seg["pid"]) == 0:
            break
        mids = seg["a"] + seg["length"] / 2
        f_mid, grads = _gradients(network, x0, delta, seg["pid"], mids, max_points)
        step = steps[seg["pid"]] * seg["length"][:, None]                      # [S, F']
        contrib = grads * step[:, None, :]                                     # [S, T, F']
        miss = np.abs(contrib.sum(axis=2) - (seg["fb"] - seg["fa"]))
        slack = FLOAT32_SLACK * (np.abs(seg["fa"]) + np.abs(seg["fb"])
                                 + np.abs(contrib).sum(axis=2))
        ok = np.all(miss <= tol[None, :] * seg["length"][:, None] + slack, axis=1)
        accept = ok | (depth == max_depth)
        np.add.at(values, seg["pid"][accept], contrib[accept])
        np.add.at(evaluations, seg["pid"], 1)
        seg = _split({k: v[~accept] for k, v in seg.items()}, f_mid[~accept])
    errors = np.abs(base[None, :] + values.sum(axis=2) - outputs)
    return PathAttributions(values, outputs, base, errors, evaluations + m0 + 1)


def _split(seg: dict[str, np.ndarray], f_mid: np.ndarray) -> dict[str, np.ndarray]:
    """Each segment as its two halves (the midpoint's output is already known)."""
    half = seg["length"] / 2
    inter = lambda left, right: np.stack([left, right], axis=1).reshape(  # noqa: E731
        (-1,) + left.shape[1:])
    return {"pid": np.repeat(seg["pid"], 2), "a": inter(seg["a"], seg["a"] + half),
            "length": np.repeat(half, 2), "fa": inter(seg["fa"], f_mid),
            "fb": inter(f_mid, seg["fb"])}


def _points(x0: Any, delta: Any, pid: np.ndarray, alpha: np.ndarray) -> Any:
    import torch

    index = torch.as_tensor(pid, device=delta.device)
    scale = torch.as_tensor(alpha, dtype=torch.float32, device=delta.device)[:, None]
    return x0[None, :] + scale * delta[index]


def _outputs(network: Any, x0: Any, delta: Any, pid: np.ndarray, alpha: np.ndarray,
             max_points: int) -> np.ndarray:
    """``[S, T]`` float64 network outputs on the path points."""
    import torch

    parts = []
    with torch.no_grad():
        for start in range(0, len(pid), max_points):
            points = _points(x0, delta, pid[start:start + max_points],
                             alpha[start:start + max_points])
            out = network(points)
            parts.append(out.reshape(len(points), -1).double().cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, 1))


def _gradients(network: Any, x0: Any, delta: Any, pid: np.ndarray, alpha: np.ndarray,
               max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Outputs ``[S, T]`` and their input gradients ``[S, T, F']`` on the path points."""
    import torch

    outs, grads = [], []
    for start in range(0, len(pid), max_points):
        points = _points(x0, delta, pid[start:start + max_points],
                         alpha[start:start + max_points]).requires_grad_(True)
        out = network(points).reshape(len(points), -1)
        per_target = [torch.autograd.grad(out[:, t].sum(), points,
                                          retain_graph=t < out.shape[1] - 1)[0]
                      for t in range(out.shape[1])]
        outs.append(out.detach().double().cpu().numpy())
        grads.append(torch.stack(per_target, dim=1).double().cpu().numpy())
    return np.concatenate(outs), np.concatenate(grads)
