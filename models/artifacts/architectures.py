"""The architectures door: ``nn.Module`` classes an artifact's ``architecture.json``
may name (``{"name": ..., "params": {...}}``; ``cls(**params)`` rebuilds the module its
``weights.pt`` state dict was saved from).

The built-in ``tabular_mlp`` goes through :func:`register_architecture`, the same door
as a user's own class (and as plugins, which call it when they load).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raigov.errors import ConfigError
from raigov.registry import Registry

if TYPE_CHECKING:
    from torch import nn

ARCHITECTURE_FILE = "architecture.json"
WEIGHTS_FILE = "weights.pt"

MSG_NOT_A_MODULE = "architecture {name!r} must be an nn.Module subclass, got {cls!r}"
MSG_BAD_JSON = "Model artifact file {path} is not valid JSON: {error}"
MSG_BAD_ARCH_FILE = ("Model artifact file {path} must hold {{\"name\": ..., \"params\": "
                     "{{...}}}}; found keys {keys}")
MSG_UNKNOWN_ARCH = ("Model artifact file {path}: {error} Register the class with "
                    "raigov.models.artifacts.register_architecture (or a raigov.plugins "
                    "entry point).")
MSG_BAD_PARAMS = "Architecture {name!r} from {path} rejects its params {params}: {error}"
MSG_BAD_WEIGHTS = "Model artifact file {path} does not fit architecture {name!r}: {error}"


def _check(name: str, cls: Any) -> None:
    from torch import nn

    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise ConfigError(MSG_NOT_A_MODULE.format(name=name, cls=cls))


ARCHITECTURES: "Registry[type[nn.Module]]" = Registry("architecture", check=_check)


def register_architecture(name: str, cls: "type[nn.Module]") -> "type[nn.Module]":
    """Make ``cls`` loadable from artifacts whose ``architecture.json`` names ``name``."""
    return ARCHITECTURES.register(name, cls)


def _register_builtins() -> None:
    from raigov.models.tabular import TabularMLP

    register_architecture("tabular_mlp", TabularMLP)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(MSG_BAD_JSON.format(path=path, error=exc)) from exc


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_module(directory: Path, *, device: str) -> "tuple[str, nn.Module]":
    """The module ``architecture.json`` names, with ``weights.pt`` loaded
    (``weights_only=True``: nothing is unpickled), in eval mode on ``device``."""
    import torch

    path = directory / ARCHITECTURE_FILE
    spec = read_json(path)
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(
            spec.get("params", {}), dict):
        keys = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise ConfigError(MSG_BAD_ARCH_FILE.format(path=path, keys=keys))
    name, params = spec["name"], spec.get("params", {})
    try:
        cls = ARCHITECTURES.get(name)
    except ConfigError as exc:
        raise ConfigError(MSG_UNKNOWN_ARCH.format(path=path, error=exc)) from None
    try:
        module = cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(MSG_BAD_PARAMS.format(name=name, path=path, params=params,
                                                error=exc)) from exc
    weights = directory / WEIGHTS_FILE
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(MSG_BAD_WEIGHTS.format(path=weights, name=name,
                                                 error=str(exc).splitlines()[0])) from exc
    return name, module.to(device).eval()


def save_module_files(directory: Path, module: "nn.Module", name: str,
                      params: dict[str, Any]) -> None:
    """Write ``architecture.json`` and ``weights.pt`` (the CPU state dict)."""
    directory.mkdir(parents=True, exist_ok=True)
    import torch

    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    torch.save(state, directory / WEIGHTS_FILE)
    write_json(directory / ARCHITECTURE_FILE, {"name": name, "params": params})


_register_builtins()
