"""The built-in monitor families. They register through ``register_monitor`` exactly as
a user's own would; this list only says which modules to import (lazily: evidently,
shap and torch load only when a monitor pass runs)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raigov.registry import Registry

BUILTIN_MODULES = ("raigov.monitors.quality", "raigov.monitors.drift", "raigov.monitors.performance",
                   "raigov.monitors.fairness", "raigov.monitors.explain",
                   "raigov.monitors.estimate", "raigov.monitors.slices")


def load_builtin_monitors(extra_modules: tuple[str, ...] = ()) -> "Registry[type]":
    """Import the built-in families (and a user's own modules); return the registry."""
    from raigov.monitors.base import MONITORS

    for name in (*BUILTIN_MODULES, *extra_modules):
        importlib.import_module(name)
    return MONITORS
