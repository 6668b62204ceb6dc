"""The raigov home: where the catalog, the lake, the spool and the artifacts live.

Resolved from ``--home``, else ``$RAIGOV_HOME``, else ``./.raigov``. Paths are kept as
``Path`` objects here; the store layer is the only place that turns them into SQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LAKE_TABLES = ("predictions", "feedback", "quarantine")


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> "Home":
        """The home named by ``home``, else ``$RAIGOV_HOME``, else ``./.raigov``."""
        chosen = home or os.environ.get("RAIGOV_HOME") or ".raigov"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    def lake_table(self, table: str) -> Path:
        return self.lake / table

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def spool_quarantine(self) -> Path:
        """Damaged spool bytes, kept with the reason (never deleted by raigov)."""
        return self.root / "spool-quarantine"

    @property
    def control_path(self) -> Path:
        """The kill switch as serving processes read it (rewritten from the catalog)."""
        return self.root / "control.json"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def artifact_dir(self, model: str, version: int) -> Path:
        return self.artifacts / model / str(version)

    def cache_dir(self, model_key: str, version: int) -> Path:
        """Derived state of one model version (its reference profile, the fitted
        explainer's state), rebuilt when missing: never inside the artifact directory,
        whose files the registration event hashed. ``model_key`` is the model's
        escaped name (``raigov.store.lake.model_key``)."""
        return self.root / "cache" / model_key / str(version)

    @property
    def cache(self) -> Path:
        """Derived per-version state, rebuilt when missing or stale (never inside the
        immutable artifact directories): e.g. reference-chunk values."""
        return self.root / "cache"

    @property
    def policies(self) -> Path:
        """Policy files in force for live monitoring (``raigov monitor run``)."""
        return self.root / "policies"

    @property
    def settings_path(self) -> Path:
        """The home's settings file (YAML): ``plugins``, the modules every raigov
        process of this home imports (see ``raigov.plugins``)."""
        return self.root / "settings.yaml"

    @property
    def api_keys_path(self) -> Path:
        """The API keys as serving processes see them (hashes, never tokens), rewritten
        durably from the catalog after every key change (``raigov.keys``)."""
        return self.root / "api-keys.json"

    @property
    def api_keys_changes_path(self) -> Path:
        """A counter bumped after every snapshot write, which servers map into memory
        to see a change without a ``stat`` per request (``raigov.change_counter``)."""
        return self.root / "api-keys.changes"

    @property
    def api_keys_lock(self) -> Path:
        """Held while a key change and its snapshot are written (one writer at a time)."""
        return self.root / "api-keys.lock"

    @property
    def keys(self) -> Path:
        """Secrets kept outside the database (the ledger checkpoint key)."""
        return self.root / "keys"

    def ensure(self) -> "Home":
        """Create the layout if it does not exist yet (directories 0700, and a private
        umask for this process: see :mod:`raigov.permissions`); return self."""
        from raigov.permissions import private_dir, private_umask

        private_umask()
        for path in (self.root, self.spool, self.artifacts, self.keys, self.lake,
                     *(self.lake_table(t) for t in LAKE_TABLES)):
            private_dir(path)
        return self
