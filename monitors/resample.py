"""Bootstrap intervals for figures that are not functions of a few counts (regression
errors, medians): a row bootstrap that stays fast on a million rows.

A replicate resamples ``m = min(n, cap)`` of a segment's ``n`` rows with replacement.
With ``n <= cap`` that is the ordinary row bootstrap. Above, it is the m-out-of-n
bootstrap: a replicate's deviation from the full-sample estimate is scaled by
``sqrt(m / n)`` (the spread of a figure on ``m`` rows shrinks to the spread on ``n``
rows like ``1 / sqrt(rows)``), so 200 replicates cost 200 x 10,000 draws per segment
whatever the window's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAP = 10_000
SCHEME = ("row bootstrap; above {cap} rows m-out-of-n with m = {cap}, deviations scaled "
          "by sqrt(m / n)")


@dataclass(frozen=True)
class Resample:
    """Row indices of ``replicates`` bootstrap samples of ``n`` rows, and the factor
    that scales a replicate's deviation back to the full sample."""

    index: np.ndarray  # [replicates, m]
    scale: float

    @classmethod
    def draw(cls, n: int, *, replicates: int, rng: np.random.Generator,
             cap: int = CAP) -> "Resample":
        m = min(n, cap)
        if n == 0 or replicates == 0:
            return cls(index=np.zeros((replicates, 0), dtype=np.int64), scale=1.0)
        return cls(index=rng.integers(0, n, size=(replicates, m)), scale=float(np.sqrt(m / n)))

    @property
    def replicates(self) -> int:
        return int(self.index.shape[0])

    def rescaled(self, values: np.ndarray, estimate: float) -> np.ndarray:
        """Replicate figures moved so their spread is that of the full sample."""
        return estimate + (values - estimate) * self.scale


def scheme() -> str:
    return SCHEME.format(cap=CAP)
