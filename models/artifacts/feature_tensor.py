"""The input contract of an exported program and of a user's own module: one float32
tensor ``[N, F]``, the spec's ``features`` in order.

=========== ==========================================================================
dtype       column of the tensor
=========== ==========================================================================
``float``   the value
``int``     the value (as float32)
``bool``    1.0 for true, 0.0 for false
``str``     the index of the value in the column's ``allowed`` list (0-based); the
            column must declare ``allowed``
=========== ==========================================================================

A null (or, for ``str``, a value outside ``allowed``, which validation rejects before
serving) is NaN: the network must cope with NaN in nullable columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError, InputError

if TYPE_CHECKING:
    from raigov.models.spec import ColumnSpec, ModelSpec

NEEDS_ALLOWED = ("Feature {name!r} of model {model!r} is a str column without 'allowed': "
                 "the {format} input tensor holds a category as its index in 'allowed', so "
                 "declare the categories (inputs.columns[{index}].allowed).")
DUPLICATE_ALLOWED = ("Feature {name!r} of model {model!r} lists a category twice in "
                     "'allowed' ({values}); each category needs one index.")
MISSING_FEATURES = "Rows for model {model!r} lack the feature column(s) {missing}."
_BOOL = {True: 1.0, False: 0.0}


class FeatureTensor:
    """Encodes rows (a DataFrame) as the float32 ``[N, F]`` tensor of the contract."""

    def __init__(self, spec: "ModelSpec", *, format: str) -> None:
        self.model = spec.name
        self.names: list[str] = list(spec.features)
        self._columns: list[tuple[str, str, list[Any] | None]] = []
        for name in self.names:
            col = spec.inputs.column(name)
            self._columns.append((name, col.dtype, self._categories(spec, col, format)))

    def _categories(self, spec: "ModelSpec", col: "ColumnSpec", format: str) -> list[Any] | None:
        if col.dtype != "str":
            return None
        if col.allowed is None:
            raise ConfigError(NEEDS_ALLOWED.format(name=col.name, model=spec.name, format=format,
                                                   index=spec.inputs.names.index(col.name)))
        values = list(col.allowed)
        twice = sorted({str(v) for v in values if values.count(v) > 1})
        if twice:
            raise ConfigError(DUPLICATE_ALLOWED.format(name=col.name, model=spec.name,
                                                       values=twice))
        return values

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        missing = [n for n in self.names if n not in df.columns]
        if missing:
            raise InputError(MISSING_FEATURES.format(model=self.model, missing=missing))
        out = np.empty((len(df), len(self.names)), dtype=np.float32)
        for j, (name, dtype, categories) in enumerate(self._columns):
            out[:, j] = _encode_column(df[name], dtype, categories)
        return out


def _encode_column(values: pd.Series, dtype: str, categories: list[Any] | None) -> np.ndarray:
    if categories is not None:
        codes = pd.Categorical(values, categories=categories).codes.astype(np.float64)
        if len(codes) and codes.min() < 0 and all(isinstance(c, str) for c in categories):
            # ints or other objects sent for a str column compare as text
            text = values.map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v))
            codes = pd.Categorical(text, categories=categories).codes.astype(np.float64)
        codes[codes < 0] = np.nan
        return codes
    if dtype == "bool":
        return values.map(_BOOL).to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True)
class TensorModel:
    """A network over the feature tensor: an exported program (format ``export``) or a
    user's own module (format ``module``, with its ``architecture`` name); see
    :class:`~raigov.models.artifacts.loaded.LoadedModel`."""

    spec: "ModelSpec"
    device: str
    network: Any
    tensor: FeatureTensor
    format: str
    architecture: str | None = None
    runnable: bool = True
    deep_exact: bool = False

    @property
    def input_names(self) -> list[str]:
        return list(self.tensor.names)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        return self.tensor.encode(df)

    def forward(self, df: pd.DataFrame) -> np.ndarray:
        from raigov.models.artifacts.loaded import run_network

        return run_network(self.network, self.encode(df), device=self.device,
                           model=self.spec.name, format=self.format)
