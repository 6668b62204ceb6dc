"""Compatibility names for the built-in artifact format; the formats now live in
:mod:`raigov.models.artifacts` (``load_model`` loads any of them)."""

from __future__ import annotations

from raigov.models.artifacts.architectures import (ARCHITECTURE_FILE, ARCHITECTURES,
                                                   MSG_NOT_A_MODULE,
                                                   WEIGHTS_FILE, register_architecture)
from raigov.models.artifacts.builtin import (PREPROCESS_FILE, BuiltinModel, load_builtin,
                                             save_artifact)
from raigov.models.artifacts.loaded import LoadedModel

load_artifact = load_builtin

__all__ = ["ARCHITECTURE_FILE", "ARCHITECTURES", "PREPROCESS_FILE", "WEIGHTS_FILE",
           "BuiltinModel", "LoadedModel", "load_artifact", "register_architecture",
           "save_artifact"]
