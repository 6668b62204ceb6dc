"""The external format: no artifact at all. The model is served by another stack (the
user's own server, KServe, Triton, vLLM); raigov never runs it, and its predictions
arrive through the capture API. Loading gives an object that says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from raigov.models.artifacts.loaded import NOT_RUNNABLE, NotRunnableError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from raigov.models.spec import ModelSpec

FORMAT = "external"


@dataclass(frozen=True)
class ExternalModel:
    """A model raigov cannot run (``runnable`` False; ``network`` None)."""

    spec: "ModelSpec"
    device: str = "cpu"
    format: str = FORMAT
    runnable: bool = False
    deep_exact: bool = False
    network: Any = None

    @property
    def input_names(self) -> list[str]:
        return list(self.spec.features)

    def forward(self, df: "pd.DataFrame") -> "np.ndarray":
        self._refuse("compute predictions")

    def encode(self, df: "pd.DataFrame") -> "np.ndarray":
        self._refuse("encode network inputs")

    def _refuse(self, action: str) -> NoReturn:
        raise NotRunnableError(NOT_RUNNABLE.format(model=self.spec.name, action=action))
