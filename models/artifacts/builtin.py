"""The built-in artifact format: a registered architecture over raigov's own
:class:`~raigov.models.encoding.Preprocessor` (the demo models' ``TabularMLP``).

``architecture.json`` + ``weights.pt`` + ``preprocess.json``; the network reads the
preprocessor's matrix (standardised numerics, one-hot categoricals), not the raw
feature tensor of the export and module formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from raigov.errors import ConfigError, did_you_mean
from raigov.models.artifacts.architectures import (ARCHITECTURE_FILE, ARCHITECTURES,
                                                   WEIGHTS_FILE, build_module, read_json,
                                                   save_module_files, write_json)
from raigov.models.artifacts.loaded import default_device, run_network
from raigov.models.encoding import Preprocessor

if TYPE_CHECKING:
    from torch import nn

    from raigov.models.spec import ModelSpec
    from raigov.models.tabular import TrainedModel

PREPROCESS_FILE = "preprocess.json"
FILES = (WEIGHTS_FILE, ARCHITECTURE_FILE, PREPROCESS_FILE)

MSG_MISSING_FILE = "Model artifact file {path} is missing (an artifact holds {files})"
MSG_MALFORMED = "Model artifact file {path} is malformed: {error!r}"
MSG_UNREGISTERED = ("Architecture {name!r} of this model is not registered "
                    "(registered: {known}).{hint}")
MSG_WRONG_CLASS = "Architecture {name!r} is {registered}, but the module is a {actual}"


@dataclass(frozen=True)
class BuiltinModel:
    """A preprocessor and its network in eval mode on ``device`` (see
    :class:`~raigov.models.artifacts.loaded.LoadedModel`)."""

    module: "nn.Module"
    preprocessor: Preprocessor
    device: str
    architecture: str = "tabular_mlp"
    spec: "ModelSpec | None" = None
    format: str = "builtin"
    runnable: bool = True

    @property
    def network(self) -> "nn.Module":
        return self.module

    @property
    def input_names(self) -> list[str]:
        return list(self.preprocessor.encoded_names)

    @property
    def deep_exact(self) -> bool:
        from raigov.models.tabular import TabularMLP

        return type(self.module) is TabularMLP

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        return self.preprocessor.transform(df)

    def forward(self, df: pd.DataFrame) -> np.ndarray:
        return self.forward_encoded(self.encode(df))

    def forward_encoded(self, x: np.ndarray) -> np.ndarray:
        name = self.spec.name if self.spec else self.architecture
        return run_network(self.module, x, device=self.device, model=name, format=self.format)

    # The binary demo models' vocabulary, kept for the monitors written against it.
    def logits(self, df: pd.DataFrame) -> np.ndarray:
        """The one-logit network's output per row, float64 ``[n]``."""
        return self.forward(df).reshape(len(df), -1)[:, 0]

    def logits_encoded(self, x: np.ndarray) -> np.ndarray:
        return self.forward_encoded(x).reshape(len(x), -1)[:, 0]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(positive class) of a one-logit network, float64 ``[n]``."""
        from raigov.models.tabular import sigmoid

        return sigmoid(self.logits(df))


def is_builtin(directory: Path) -> bool:
    return (directory / PREPROCESS_FILE).is_file()


def save_artifact(directory: str | Path, trained: "TrainedModel") -> Path:
    """Write the three built-in artifact files of ``trained`` into ``directory``."""
    name = trained.architecture
    if name not in ARCHITECTURES:
        raise ConfigError(MSG_UNREGISTERED.format(name=name, known=ARCHITECTURES.names(),
                                                  hint=did_you_mean(name, ARCHITECTURES.names())))
    registered = ARCHITECTURES.get(name)
    if type(trained.module) is not registered:
        raise ConfigError(MSG_WRONG_CLASS.format(name=name, registered=registered.__qualname__,
                                                 actual=type(trained.module).__qualname__))
    path = Path(directory)
    save_module_files(path, trained.module, name, trained.params)
    write_json(path / PREPROCESS_FILE, trained.preprocessor.to_dict())
    return path


def load_builtin(directory: str | Path, spec: "ModelSpec | None" = None, *,
                 device: str | None = None) -> BuiltinModel:
    """Rebuild the model saved in ``directory``; ConfigError names the wrong file."""
    path = Path(directory)
    for file in (ARCHITECTURE_FILE, PREPROCESS_FILE, WEIGHTS_FILE):
        if not (path / file).is_file():
            raise ConfigError(MSG_MISSING_FILE.format(path=path / file, files=", ".join(FILES)))
    try:
        preprocessor = Preprocessor.from_dict(read_json(path / PREPROCESS_FILE))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(MSG_MALFORMED.format(path=path / PREPROCESS_FILE, error=exc)) from exc
    device = default_device(device)
    name, module = build_module(path, device=device)
    return BuiltinModel(module, preprocessor, device, name, spec)
