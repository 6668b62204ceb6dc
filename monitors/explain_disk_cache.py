"""The explain family's fitted reference state, kept on disk per model version.

Explaining a window compares its importance with that of a seeded sample of the
reference, explained with the same fitted method. That reference explanation costs as
much as the window's own, and a new process (each ``raigov monitor run`` from cron)
would pay it again for every version; so it is written, as plain JSON (arrays as
dtype, shape and a flat list of numbers: nothing that executes on load), to
``explain_reference.json`` in the version's cache directory
(:func:`raigov.monitors.version_state.version_cache_dir`).

The file holds the key it was computed for: the artifact files' sizes and times, the
spec, the reference's fingerprint, the method, background size, seed, device and
sample size. A file whose key differs, or that cannot be read, is recomputed and
replaced; JSON keeps every float exactly, so a read-back explanation is the one
computed.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from raigov.monitors.attribution_methods import Attributions

FILE = "explain_reference.json"
FORMAT = "raigov.explain_reference/1"
_ARRAYS = ("values", "input_values", "outputs", "baseline", "errors", "bound", "decision",
           "kept")


def _array(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.reshape(-1).tolist()}


def _from(d: dict[str, Any]) -> np.ndarray:
    return np.asarray(d["data"], dtype=np.dtype(d["dtype"])).reshape(d["shape"])


def load_reference(cache_dir: Path | None, key: dict[str, Any]) -> Attributions | None:
    """The stored reference explanation for ``key``, or None."""
    if cache_dir is None:
        return None
    try:
        stored = json.loads((cache_dir / FILE).read_text())
        if stored.get("format") != FORMAT or stored.get("key") != key:
            return None
        body = stored["attributions"]
        return Attributions(**{name: _from(body[name]) for name in _ARRAYS},
                            skipped=int(body["skipped"]), seconds=float(body["seconds"]),
                            evaluations=float(body["evaluations"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_reference(cache_dir: Path | None, key: dict[str, Any], found: Attributions) -> None:
    """Write the reference explanation for ``key`` (atomically; per-process temp name)."""
    if cache_dir is None:
        return
    from raigov.permissions import private_dir

    private_dir(cache_dir)
    body = {name: _array(getattr(found, name)) for name in _ARRAYS}
    body.update(skipped=found.skipped, seconds=found.seconds, evaluations=found.evaluations)
    path = cache_dir / FILE
    tmp = path.with_name(f".{FILE}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "key": key, "attributions": body}))
    tmp.replace(path)
