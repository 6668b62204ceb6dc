"""Model artifacts a user can bring, loaded without unpickling anything: an exported
program (``model.pt2``), an own ``nn.Module`` class with its ``state_dict``, the
built-in format over raigov's preprocessor, a frozen text encoder (named by its
package) under a head's weights, or none at all (an external model).
Every loaded model satisfies :class:`~raigov.models.artifacts.loaded.LoadedModel`.

This package imports no torch; the names below load their modules on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "LoadedModel": "loaded", "NotRunnableError": "loaded",
    "ARTIFACT_FORMATS": "load", "artifact_format": "load", "check_artifact": "load",
    "load_model": "load",
    "ARCHITECTURES": "architectures", "register_architecture": "architectures",
    "save_artifact": "builtin", "load_builtin": "builtin", "BuiltinModel": "builtin",
    "save_module": "module", "TensorModel": "feature_tensor", "ExternalModel": "external",
    "save_text_head": "text_head", "TextHeadModel": "text_head",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
