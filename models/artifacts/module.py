"""The module format: a user's own ``nn.Module`` class, registered as an architecture
(:func:`~raigov.models.artifacts.architectures.register_architecture`), plus its
``state_dict``: ``architecture.json`` + ``weights.pt`` and no ``preprocess.json``.

The module reads the same float32 ``[N, F]`` feature tensor as an exported program
(:mod:`raigov.models.artifacts.feature_tensor`) and returns the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError
from raigov.models.artifacts.architectures import build_module, save_module_files
from raigov.models.artifacts.feature_tensor import FeatureTensor, TensorModel
from raigov.models.artifacts.loaded import default_device

if TYPE_CHECKING:
    from torch import nn

    from raigov.models.spec import ModelSpec

FORMAT = "module"


def load_module(directory: Path, spec: "ModelSpec", *, device: str | None = None) -> TensorModel:
    from raigov.models.artifacts.architectures import ARCHITECTURE_FILE, WEIGHTS_FILE
    from raigov.models.artifacts.builtin import MSG_MISSING_FILE

    for file in (ARCHITECTURE_FILE, WEIGHTS_FILE):
        if not (Path(directory) / file).is_file():
            raise ConfigError(MSG_MISSING_FILE.format(
                path=Path(directory) / file, files=f"{ARCHITECTURE_FILE}, {WEIGHTS_FILE}"))
    tensor = FeatureTensor(spec, format=FORMAT)
    device = default_device(device)
    name, module = build_module(directory, device=device)
    return TensorModel(spec, device, module, tensor, FORMAT, architecture=name)


def save_module(directory: str | Path, module: "nn.Module", architecture: str,
                params: dict[str, Any] | None = None) -> Path:
    """Write a module-format artifact: ``architecture`` must be registered and
    ``cls(**params)`` must rebuild ``module``."""
    from raigov.models.artifacts.architectures import ARCHITECTURES

    ARCHITECTURES.get(architecture)  # unknown: a clear error now, not at load
    path = Path(directory)
    save_module_files(path, module, architecture, dict(params or {}))
    return path
