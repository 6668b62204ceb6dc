"""The model registry: immutable model versions with their artifact, spec and reference.

``register_model`` copies the artifact into ``artifacts/<model>/<version>/`` with the
spec (``spec.json``) and the reference data (``reference.parquet``), inserts the
version into the catalog and writes a ``model.registered`` ledger event in the same
transaction. A version never changes after it is registered.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from raigov.models.spec import ModelSpec
from raigov.canonical import canonical_json, sha256_hex, utcnow
from raigov.store.catalog import catalog
from raigov.errors import ConfigError, NotFoundError, did_you_mean
from raigov.home import Home
from raigov.ledger.artifacts import check_artifact, directory_digests
from raigov.store.lake import model_key
from raigov.ledger.chain import append_event

UNKNOWN_MODEL = "No model named '{name}' is registered in {home}.{hint}"
UNKNOWN_VERSION = "Model '{name}' has no version {version} (versions: {versions})."
REFERENCE_MISSING = "Reference data for '{name}' lacks the input columns {missing}."
# The files that hold a network; an artifact directory with none of them is an external
# model's (served by another stack; its predictions arrive through the capture API).


def holds_network(directory: Path) -> bool:
    """Whether a version's artifact directory holds a network raigov can run (any
    artifact format but ``external``; one artifact door decides)."""
    from raigov.models.artifacts.load import artifact_format

    return artifact_format(Path(directory)).name != "external"


@dataclass(frozen=True)
class RegisteredModel:
    spec: ModelSpec
    version: int
    created_at: dt.datetime
    artifact_dir: Path
    spec_sha256: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def artifact_format(self) -> str:
        """``builtin``, ``export``, ``module`` or ``external``."""
        from raigov.models.artifacts.load import artifact_format

        return artifact_format(self.artifact_dir).name

    def load(self, *, device: str | None = None, verify: bool = True):
        """This version's model as a :class:`~raigov.models.artifacts.LoadedModel`.
        Unless ``verify=False``, first checks every file against the SHA-256 its
        ``model.registered`` event recorded and refuses (VerificationError, exit 1)
        naming a changed file."""
        from raigov.models.artifacts.load import load_model

        if verify:
            home = Home(self.artifact_dir.parents[2])
            check_artifact(home, f"{self.spec.name}@{self.version}")
        return load_model(self.artifact_dir, self.spec, device=device)

    @property
    def reference_path(self) -> Path:
        return self.artifact_dir / "reference.parquet"

    @property
    def external(self) -> bool:
        """Served by another stack: the registry wrote no network for this version."""
        return not holds_network(self.artifact_dir)

    def load_reference(self) -> pd.DataFrame:
        return pd.read_parquet(self.reference_path)


def artifact_dir(home: Home, name: str, version: int) -> Path:
    return home.artifacts / model_key(name) / str(version)


def register_model(home: Home, spec: ModelSpec, *, artifact: Path | None,
                   reference: pd.DataFrame, actor: str = "raigov") -> RegisteredModel:
    """Register a new version of ``spec.name``; returns it. ``artifact`` is a directory
    (any format of :mod:`raigov.models.artifacts`) copied as is, a ``.pt2`` file
    (copied as ``model.pt2``), or None for an external model. The reference is stored
    as given (:func:`raigov.models.registration.register_model_files` prepares it)."""
    from raigov.models.artifacts.load import artifact_format

    missing = [c for c in spec.input_columns if c not in reference.columns]
    if missing:
        raise ConfigError(REFERENCE_MISSING.format(name=spec.name, missing=missing))
    spec_json = canonical_json(spec.model_dump(mode="json"))
    digest = sha256_hex(spec_json)
    with catalog(home) as con:
        row = con.execute("SELECT coalesce(max(version), 0) FROM models WHERE name = ?",
                          [spec.name]).fetchone()
        version = int(row[0]) + 1
        target = artifact_dir(home, spec.name, version)
        _copy_artifact(artifact, target, spec_json, reference)
        fmt = artifact_format(target).name
        files = directory_digests(target)
        created = utcnow()
        con.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?::JSON, ?, ?)",
                    [spec.name, version, created, spec.output_kind, spec_json, digest,
                     list(spec.tags)])
        append_event(con, "model.registered", actor=actor, subject=f"{spec.name}@{version}",
                     payload={"model": spec.name, "version": version, "spec_sha256": digest,
                              "reference_rows": len(reference), "artifact_format": fmt,
                              "artifact_files": sorted(p.name for p in target.iterdir()),
                              "artifact_dir": target.relative_to(home.root).as_posix(),
                              "files": files})
    return RegisteredModel(spec, version, created, target, digest)


def _copy_artifact(source: Path | None, target: Path, spec_json: str,
                   reference: pd.DataFrame) -> None:
    from raigov.models.artifacts.load import PROGRAM_FILE

    if target.exists():
        shutil.rmtree(target)  # left by a registration whose transaction rolled back
    if source is None:
        target.mkdir(parents=True)
    elif Path(source).is_file():
        target.mkdir(parents=True)
        shutil.copyfile(source, target / PROGRAM_FILE)
    else:
        shutil.copytree(source, target)
    (target / "spec.json").write_text(spec_json)
    reference.to_parquet(target / "reference.parquet", compression="zstd", index=False)
    from raigov.permissions import private_tree

    private_tree(target.parent)      # copytree keeps the source's modes


def _row_to_model(home: Home, row: tuple) -> RegisteredModel:
    name, version, created, spec_json, digest = row
    spec = ModelSpec.model_validate(json.loads(spec_json))
    return RegisteredModel(spec, int(version), created, artifact_dir(home, name, int(version)), digest)


def get_model(home: Home, name: str, version: int | None = None) -> RegisteredModel:
    """A registered version (the latest when ``version`` is None)."""
    with catalog(home, read_only=True) as con:
        rows = con.execute("SELECT name, version, created_at, spec::VARCHAR, spec_sha256 "
                           "FROM models WHERE name = ? ORDER BY version", [name]).fetchall()
        names = [r[0] for r in con.execute("SELECT DISTINCT name FROM models").fetchall()]
    if not rows:
        raise NotFoundError(UNKNOWN_MODEL.format(name=name, home=home.root,
                                                 hint=did_you_mean(name, names)))
    if version is None:
        return _row_to_model(home, rows[-1])
    for row in rows:
        if row[1] == version:
            return _row_to_model(home, row)
    raise NotFoundError(UNKNOWN_VERSION.format(name=name, version=version,
                                               versions=[r[1] for r in rows]))


def list_models(home: Home, *, latest_only: bool = True) -> list[RegisteredModel]:
    with catalog(home, read_only=True) as con:
        rows = con.execute("SELECT name, version, created_at, spec::VARCHAR, spec_sha256 "
                           "FROM models ORDER BY name, version").fetchall()
    models = [_row_to_model(home, r) for r in rows]
    if latest_only:
        latest: dict[str, RegisteredModel] = {}
        for m in models:
            latest[m.name] = m
        models = list(latest.values())
    return models
