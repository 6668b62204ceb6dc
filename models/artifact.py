"""A trained model on disk, and loading it back for serving.

An artifact directory holds three files:

- ``weights.pt``: the module's ``state_dict`` (loaded with ``weights_only=True``, so
  loading never runs pickled code);
- ``architecture.json``: ``{"name": "tabular_mlp", "params": {...}}``, the registered
  class and its constructor arguments;
- ``preprocess.json``: the fitted :class:`raigov.models.encoding.Preprocessor`.

Architectures live in one registry, :data:`ARCHITECTURES`. The built-in
``tabular_mlp`` is registered through :func:`register_architecture`, the same door a
user's own ``nn.Module`` class goes through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from raigov.models.encoding import Preprocessor
from raigov.models.tabular import TabularMLP, TrainedModel, predict_logits, sigmoid
from raigov.errors import ConfigError, did_you_mean
from raigov.registry import Registry

WEIGHTS_FILE = "weights.pt"
ARCHITECTURE_FILE = "architecture.json"
PREPROCESS_FILE = "preprocess.json"

MSG_MISSING_FILE = "Model artifact file {path} is missing (an artifact holds {files})"
MSG_BAD_JSON = "Model artifact file {path} is not valid JSON: {error}"
MSG_BAD_ARCH_FILE = ("Model artifact file {path} must hold {{\"name\": ..., \"params\": "
                     "{{...}}}}; found keys {keys}")
MSG_UNKNOWN_ARCH = ("Unknown architecture {name!r} in {path} (registered: {known}).{hint} "
                    "Register a class with raigov.models.artifact.register_architecture.")
MSG_BAD_PARAMS = "Architecture {name!r} from {path} rejects its params {params}: {error}"
MSG_BAD_WEIGHTS = "Model artifact file {path} does not fit architecture {name!r}: {error}"
MSG_UNREGISTERED = ("Architecture {name!r} of this model is not registered "
                    "(registered: {known}).{hint}")
MSG_WRONG_CLASS = "Architecture {name!r} is {registered}, but the module is a {actual}"

MSG_NOT_A_MODULE = "architecture {name!r} must be an nn.Module subclass, got {cls!r}"


def _check_architecture(name: str, cls: type[nn.Module]) -> None:
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise ConfigError(MSG_NOT_A_MODULE.format(name=name, cls=cls))


ARCHITECTURES: Registry[type[nn.Module]] = Registry("architecture", check=_check_architecture)


def register_architecture(name: str, cls: type[nn.Module]) -> type[nn.Module]:
    """Make ``cls`` loadable from artifacts whose ``architecture.json`` names ``name``.
    ``cls(**params)`` must rebuild the module the weights were saved from."""
    return ARCHITECTURES.register(name, cls)


register_architecture("tabular_mlp", TabularMLP)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to answer: its module in eval mode on ``device``.

    Inference runs under ``torch.inference_mode`` and keeps no state between calls, so
    several threads may call ``predict_proba`` at once."""

    module: nn.Module
    preprocessor: Preprocessor
    device: str
    architecture: str = "tabular_mlp"

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(positive class) for each row of ``df``, float64 ``[n]``."""
        return sigmoid(self.logits_encoded(self.preprocessor.transform(df)))

    def logits(self, df: pd.DataFrame) -> np.ndarray:
        """The network's raw output (the logit) for each row of ``df``, float64 ``[n]``."""
        return self.logits_encoded(self.preprocessor.transform(df))

    def logits_encoded(self, x: np.ndarray) -> np.ndarray:
        """Logits for an already encoded float matrix ``[n, n_encoded]``, float64 ``[n]``."""
        return predict_logits(self.module, x, device=self.device)


def save_artifact(directory: str | Path, trained: TrainedModel) -> Path:
    """Write the three artifact files of ``trained`` into ``directory`` (created)."""
    name = trained.architecture
    registered = ARCHITECTURES.find(name)
    if registered is None:
        raise ConfigError(MSG_UNREGISTERED.format(
            name=name, known=sorted(ARCHITECTURES), hint=did_you_mean(name, ARCHITECTURES)))
    if type(trained.module) is not registered:
        raise ConfigError(MSG_WRONG_CLASS.format(name=name, registered=registered.__qualname__,
                                                 actual=type(trained.module).__qualname__))
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in trained.module.state_dict().items()}
    torch.save(state, path / WEIGHTS_FILE)
    _write_json(path / ARCHITECTURE_FILE, {"name": name, "params": trained.params})
    _write_json(path / PREPROCESS_FILE, trained.preprocessor.to_dict())
    return path


def load_artifact(directory: str | Path, *, device: str | None = None) -> LoadedModel:
    """Rebuild the model saved in ``directory`` on ``device`` (default: ``cuda`` when
    available, else ``cpu``). Raises ConfigError naming the file that is wrong."""
    path = Path(directory)
    for file in (ARCHITECTURE_FILE, PREPROCESS_FILE, WEIGHTS_FILE):
        if not (path / file).is_file():
            raise ConfigError(MSG_MISSING_FILE.format(
                path=path / file, files=", ".join((WEIGHTS_FILE, ARCHITECTURE_FILE,
                                                   PREPROCESS_FILE))))
    name, module = _build_module(path / ARCHITECTURE_FILE)
    try:
        preprocessor = Preprocessor.from_dict(_read_json(path / PREPROCESS_FILE))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"Model artifact file {path / PREPROCESS_FILE} is malformed: "
                          f"{exc!r}") from exc
    try:
        state = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise ConfigError(MSG_BAD_WEIGHTS.format(path=path / WEIGHTS_FILE, name=name,
                                                 error=str(exc).splitlines()[0])) from exc
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    module.to(device).eval()
    return LoadedModel(module, preprocessor, device, name)


def _build_module(path: Path) -> tuple[str, nn.Module]:
    spec = _read_json(path)
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(
            spec.get("params", {}), dict):
        keys = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise ConfigError(MSG_BAD_ARCH_FILE.format(path=path, keys=keys))
    name, params = spec["name"], spec.get("params", {})
    cls = ARCHITECTURES.find(name)
    if cls is None:
        raise ConfigError(MSG_UNKNOWN_ARCH.format(name=name, path=path,
                                                  known=sorted(ARCHITECTURES),
                                                  hint=did_you_mean(name, ARCHITECTURES)))
    try:
        return name, cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(MSG_BAD_PARAMS.format(name=name, path=path, params=params,
                                                error=exc)) from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(MSG_BAD_JSON.format(path=path, error=exc)) from exc


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
