"""Derived state of a model version, computed once and reused by every window.

A registered version never changes (its spec, reference and artifact are immutable),
so what a monitor run derives from it is kept:

- for the run (:class:`VersionStates`): the registered version, its reference frame
  and its drift profile, per (model, version): one catalog read and one Parquet read
  per version, not per window;
- on disk: the reference profile as plain JSON in the version's cache directory
  (``<home>/cache/<model>/<version>/``, see :meth:`raigov.home.Home.cache_dir`), never
  in the artifact directory, whose files the registration event hashed. The file
  carries a stamp (the reference file's size and modification time, the spec's
  sha256); a profile whose stamp does not match, or of a format this raigov does not
  read, is rebuilt, never trusted.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raigov.home import Home
from raigov.store.lake import model_key

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.registry import RegisteredModel

PROFILE_FILE = "reference_profile.json"


def version_cache_dir(home: Home, model: str, version: int) -> Path:
    """Where derived state of one version lives (created on first write)."""
    return home.cache_dir(model_key(model), version)


def _stamp(registered: "RegisteredModel") -> dict[str, Any]:
    try:
        stat = registered.reference_path.stat()
        reference = [stat.st_size, stat.st_mtime_ns]
    except FileNotFoundError:
        reference = None
    return {"reference": reference, "spec_sha256": registered.spec_sha256}


def cached_reference_profile(home: Home, registered: "RegisteredModel",
                             reference: "pd.DataFrame") -> dict:
    """The drift profile of a version's reference: read from its cache file when the
    stamp matches, else built and written (atomically) there."""
    from raigov.errors import ConfigError
    from raigov.monitors.reference_profile import build_reference_profile, check_profile
    from raigov.permissions import private_dir

    path = version_cache_dir(home, registered.name, registered.version) / PROFILE_FILE
    stamp = _stamp(registered)
    if path.exists():
        try:   # a stale profile, or one written by an older raigov, is rebuilt
            stored = json.loads(path.read_text())
            if stored.get("stamp") == stamp:
                return check_profile(stored["profile"])
        except (ConfigError, ValueError, KeyError, TypeError, AttributeError):
            pass
    profile = build_reference_profile(reference, spec=registered.spec)
    for directory in (path.parent.parent.parent, path.parent.parent, path.parent):
        private_dir(directory)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")  # runs race
    tmp.write_text(json.dumps({"stamp": stamp, "profile": profile}))
    tmp.replace(path)
    return profile


class VersionStates:
    """The versions one monitor run has met, with what it derived from each."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._models: dict[tuple[str, int], "RegisteredModel"] = {}
        self._references: dict[tuple[str, int], "pd.DataFrame"] = {}
        self._profiles: dict[tuple[str, int], dict] = {}

    def model(self, name: str, version: int) -> "RegisteredModel":
        from raigov.models.registry import get_model

        key = (name, version)
        if key not in self._models:
            self._models[key] = get_model(self.home, name, version)
        return self._models[key]

    def reference(self, name: str, version: int) -> "pd.DataFrame":
        key = (name, version)
        if key not in self._references:
            self._references[key] = self.model(name, version).load_reference()
        return self._references[key]

    def profile(self, name: str, version: int) -> dict:
        key = (name, version)
        if key not in self._profiles:
            self._profiles[key] = cached_reference_profile(
                self.home, self.model(name, version), self.reference(name, version))
        return self._profiles[key]
