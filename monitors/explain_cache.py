"""Fitted attribution methods, kept per artifact, spec, reference, background size,
seed, device and method, so consecutive windows (and repeated one-row explanations)
pay only for their own rows."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raigov.monitors.attribution_methods import AUTO, Fitted, choose_method
from raigov.monitors.explain_model import ARTIFACT_FILES, ExplainableModel, load_explainable
from raigov.monitors.shap_explainer import DEFAULT_BACKGROUND, frame_fingerprint

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec

CACHE_SIZE = 8
_CACHE: OrderedDict[tuple[Any, ...], tuple[ExplainableModel, Fitted | None]] = OrderedDict()
_LOCK = threading.Lock()


def cached_fit(artifact_dir: str | Path | None, spec: "ModelSpec", *,
               reference: "pd.DataFrame", seed: int = 0,
               background_size: int = DEFAULT_BACKGROUND, device: str | None = None,
               method: str = AUTO) -> tuple[ExplainableModel, Fitted | None]:
    """The loaded model and its fitted method (None for a model that cannot run here).
    Raises ConfigError for an artifact that cannot be loaded, InputError for a
    reference without usable rows."""
    key = (artifact_key(artifact_dir), hashlib.sha256(spec.model_dump_json().encode())
           .hexdigest(), device, background_size, seed, method, frame_fingerprint(reference))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    model = load_explainable(artifact_dir, spec, device=device)
    fitted = None
    if model.runnable:
        fitted = choose_method(model, method).fit(model, reference,
                                                  background_size=background_size, seed=seed)
    with _LOCK:
        _CACHE[key] = (model, fitted)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model, fitted


def clear_explainer_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def artifact_key(artifact_dir: str | Path | None) -> tuple[Any, ...] | None:
    """The directory and the state (mtime, size) of its artifact files."""
    if artifact_dir is None:
        return None
    path = Path(artifact_dir).resolve()
    stamps = []
    for name in ARTIFACT_FILES:
        file = path / name
        if file.exists():
            stat = file.stat()
            stamps.append((name, stat.st_mtime_ns, stat.st_size))
    return (str(path), tuple(stamps))
