"""Which artifact format a directory holds, and loading it as a
:class:`~raigov.models.artifacts.loaded.LoadedModel`.

========== ======================================================= ====================
format     files                                                   network input
========== ======================================================= ====================
export     ``model.pt2`` (``torch.export``)                        feature tensor [N, F]
module     ``architecture.json`` + ``weights.pt``                  feature tensor [N, F]
builtin    ``architecture.json`` + ``weights.pt`` +                raigov's Preprocessor
           ``preprocess.json``
text_head  ``text_head.json`` (a frozen encoder + a linear head)     a text column
external   none (the model is served elsewhere)                    (not run here)
========== ======================================================= ====================

Formats are entries of :data:`ARTIFACT_FORMATS` (a :class:`raigov.registry.Registry`),
asked in order; the first whose ``detect`` holds wins, ``external`` when none does.
Nothing here imports torch until a model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from raigov.errors import ConfigError
from raigov.registry import Registry

if TYPE_CHECKING:
    from raigov.models.artifacts.loaded import LoadedModel
    from raigov.models.spec import ModelSpec

PROGRAM_FILE = "model.pt2"
ARCHITECTURE_FILE = "architecture.json"
WEIGHTS_FILE = "weights.pt"
PREPROCESS_FILE = "preprocess.json"
SPEC_FILE = "spec.json"

NOT_AN_ARTIFACT = ("Model artifact {path} is neither a directory nor a .pt2 file "
                   "(an artifact is a directory holding {formats}, or a model.pt2 file)")
NO_MODEL_FILES = ("Model artifact directory {path} holds no model files: expected {formats}. "
                  "Leave out --artifact for an external model served elsewhere.")
TWO_FORMATS = ("Model artifact directory {path} holds the files of two formats ({found}); "
               "keep one")
NO_SPEC = ("Model artifact directory {path} has no spec.json; pass the spec to load a "
           "{format} artifact")


@dataclass(frozen=True)
class ArtifactFormat:
    """One artifact format: how to recognise it and how to load it."""

    name: str
    files: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, "ModelSpec | None", str | None], "LoadedModel"]


def _load_export(path: Path, spec: "ModelSpec | None", device: str | None) -> "LoadedModel":
    from raigov.models.artifacts.exported import load_exported

    return load_exported(path, _need(spec, path, "export"), device=device)


def _load_module(path: Path, spec: "ModelSpec | None", device: str | None) -> "LoadedModel":
    from raigov.models.artifacts.module import load_module

    return load_module(path, _need(spec, path, "module"), device=device)


def _load_builtin(path: Path, spec: "ModelSpec | None", device: str | None) -> "LoadedModel":
    from raigov.models.artifacts.builtin import load_builtin

    return load_builtin(path, spec, device=device)


def _load_text_head(path: Path, spec: "ModelSpec | None", device: str | None) -> "LoadedModel":
    from raigov.models.artifacts.text_head import load_text_head

    return load_text_head(path, _need(spec, path, "text_head"), device=device)


def _load_external(path: Path, spec: "ModelSpec | None", device: str | None) -> "LoadedModel":
    from raigov.models.artifacts.external import ExternalModel

    return ExternalModel(_need(spec, path, "external"))


ARTIFACT_FORMATS: Registry[ArtifactFormat] = Registry("artifact format")
for _format in (
    ArtifactFormat("export", PROGRAM_FILE, lambda p: p.suffix == ".pt2" and p.is_file()
                   or (p / PROGRAM_FILE).is_file(), _load_export),
    ArtifactFormat("builtin", f"{ARCHITECTURE_FILE} + {WEIGHTS_FILE} + {PREPROCESS_FILE}",
                   lambda p: (p / PREPROCESS_FILE).is_file(), _load_builtin),
    ArtifactFormat("module", f"{ARCHITECTURE_FILE} + {WEIGHTS_FILE}",
                   lambda p: ((p / ARCHITECTURE_FILE).is_file() or (p / WEIGHTS_FILE).is_file())
                   and not (p / PREPROCESS_FILE).is_file(), _load_module),  # half a module: its error
    ArtifactFormat("text_head", "text_head.json", lambda p: (p / "text_head.json").is_file(),
                   _load_text_head),
    ArtifactFormat("external", "no files", lambda p: False, _load_external),
):
    ARTIFACT_FORMATS.register(_format.name, _format)


def artifact_format(path: str | Path) -> ArtifactFormat:
    """The format of ``path`` (``external`` when it holds no model files)."""
    path = Path(path)
    found = [f for f in ARTIFACT_FORMATS.values() if path.exists() and f.detect(path)]
    if len(found) > 1:
        raise ConfigError(TWO_FORMATS.format(path=path, found=", ".join(f.name for f in found)))
    return found[0] if found else ARTIFACT_FORMATS.get("external")


def check_artifact(path: str | Path) -> ArtifactFormat:
    """The format of an artifact a user hands in: it must hold a model (never external)."""
    path = Path(path)
    formats = "; ".join(f"{f.name}: {f.files}" for f in ARTIFACT_FORMATS.values()
                        if f.name != "external")
    if not (path.is_dir() or (path.is_file() and path.suffix == ".pt2")):
        raise ConfigError(NOT_AN_ARTIFACT.format(path=path, formats=formats))
    found = artifact_format(path)
    if found.name == "external":
        raise ConfigError(NO_MODEL_FILES.format(path=path, formats=formats))
    return found


def load_model(path: str | Path, spec: "ModelSpec | None" = None, *,
               device: str | None = None) -> "LoadedModel":
    """Load the artifact at ``path`` (a registered version's directory, an artifact
    directory, or a ``.pt2`` file) for ``spec`` (default: the directory's
    ``spec.json``) on ``device`` (default: CUDA when available, else CPU)."""
    path = Path(path)
    if spec is None and (path / SPEC_FILE).is_file():
        from raigov.models.spec import ModelSpec

        spec = ModelSpec.model_validate_json((path / SPEC_FILE).read_text(encoding="utf-8"))
    return artifact_format(path).load(path, spec, device)


def _need(spec: "ModelSpec | None", path: Path, format: str) -> "ModelSpec":
    if spec is None:
        raise ConfigError(NO_SPEC.format(path=path, format=format))
    return spec
