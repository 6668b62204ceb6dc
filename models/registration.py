"""Registering a model from files, the Python side of ``raigov models register``:
a spec (a YAML file or a :class:`ModelSpec`), an artifact (or none: external) and a
reference file (Parquet or CSV).

The reference holds the model's inputs and, when known, the ground truth under the
spec's ``label_name``. It is checked against the input schema; the ground truth is
stored as ``y_true`` (class index for classifiers, the value for regression); where
the model is runnable here, raigov computes the reference predictions itself and
stores them in the lake's columns (``label``, ``score``, ``value``,
``probabilities``, per the output kind). An external model's reference may carry
those columns as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from raigov.errors import ConfigError, InputError
from raigov.models.output_kinds import output_kind
from raigov.models.spec import ModelSpec

if TYPE_CHECKING:
    from raigov.home import Home
    from raigov.models.artifacts.loaded import LoadedModel
    from raigov.models.registry import RegisteredModel

PREDICTION_PARTS = ("label", "score", "value", "probabilities")
SHOWN_ROWS = 5

FILE_NOT_FOUND = "Reference file {path} not found."
UNKNOWN_SUFFIX = "Reference file {path} must be Parquet (.parquet) or CSV (.csv), not {suffix!r}."
UNREADABLE = "Reference file {path} cannot be read as {kind}: {error}"
MISSING_COLUMNS = ("Reference file {path} lacks the input column(s) {missing} of model "
                   "{model!r} (columns in the file: {columns}).")
BAD_ROWS = "Reference file {path}: {n} value(s) break the input schema of model {model!r}: {cases}."
BAD_TRUTH = ("Reference file {path}, column {column!r} (the spec's label_name): row(s) "
             "{rows} hold {values}; expected {hint}.")
BAD_OUTPUT = "Model artifact {path} on the reference rows of {model!r}: {error}"
NOT_FINITE = ("Model artifact {path} returned non-finite outputs (NaN or infinity) for "
              "reference row(s) {rows} of model {model!r}.")


def register_model_files(home: "Home", spec: ModelSpec | str | Path, *,
                         artifact: str | Path | None = None,
                         reference: str | Path | pd.DataFrame | None = None,
                         actor: str = "raigov", device: str | None = None,
                         ) -> "RegisteredModel":
    """Register a new version of a model from files; returns it.

    ``spec``: a YAML spec file or a spec; ``artifact``: a directory in one of the
    formats of :mod:`raigov.models.artifacts` or a ``.pt2`` file (None: an external
    model); ``reference``: a Parquet or CSV file (or a DataFrame) of inputs and,
    optionally, ground truth under ``spec.label_name``."""
    from raigov.models.artifacts.load import check_artifact
    from raigov.models.registry import register_model
    from raigov.models.spec_file import load_spec_file

    spec = spec if isinstance(spec, ModelSpec) else load_spec_file(spec)
    loaded = None
    if artifact is not None:
        loaded = check_artifact(artifact).load(Path(artifact), spec, device)
    shown = "<DataFrame>" if isinstance(reference, pd.DataFrame) else str(reference)
    frame = (_empty_reference(spec) if reference is None else
             reference if isinstance(reference, pd.DataFrame) else read_table(reference))
    prepared = prepare_reference(frame, spec, loaded, source=shown,
                                 artifact=str(artifact) if artifact is not None else "")
    return register_model(home, spec, artifact=None if artifact is None else Path(artifact),
                          reference=prepared, actor=actor)


def read_table(path: str | Path) -> pd.DataFrame:
    """A Parquet or CSV file as a DataFrame (InputError naming the file otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(FILE_NOT_FOUND.format(path=path))
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    readers = {".parquet": ("Parquet", pd.read_parquet), ".pq": ("Parquet", pd.read_parquet),
               ".csv": ("CSV", pd.read_csv), ".csv.gz": ("CSV", pd.read_csv)}
    if suffix.lower() not in readers:
        raise InputError(UNKNOWN_SUFFIX.format(path=path, suffix=suffix))
    kind, reader = readers[suffix.lower()]
    try:
        return reader(path)
    except Exception as exc:  # noqa: BLE001 - any parser error means the same to the user
        raise InputError(UNREADABLE.format(path=path, kind=kind, error=exc)) from exc


def prepare_reference(frame: pd.DataFrame, spec: ModelSpec, loaded: "LoadedModel | None", *,
                      source: str, artifact: str = "") -> pd.DataFrame:
    """The reference as stored: inputs typed per the spec and checked, ``y_true`` when
    the ground truth is known, and the model's own predictions when it is runnable."""
    inputs = _typed_inputs(frame, spec, source)
    out = inputs.reset_index(drop=True)
    if spec.label_name in frame.columns and spec.label_name not in spec.input_columns:
        out["y_true"] = _truth(frame[spec.label_name].reset_index(drop=True), spec, source)
    if loaded is not None and loaded.runnable:
        for name, values in _predictions(out, spec, loaded, artifact).items():
            out[name] = values
    elif loaded is None:
        for name in PREDICTION_PARTS:
            if name in frame.columns and name != spec.label_name:
                out[name] = frame[name].reset_index(drop=True)
    return out


def _typed_inputs(frame: pd.DataFrame, spec: ModelSpec, source: str) -> pd.DataFrame:
    columns = spec.input_columns
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(MISSING_COLUMNS.format(path=source, missing=missing, model=spec.name,
                                                columns=list(frame.columns)))
    typed = frame[columns].copy()
    for name in columns:
        if spec.inputs.column(name).dtype in ("str", "text"):  # CSV reads "1" as 1
            values = typed[name].astype(object)
            missing = values.isna()   # None, NaN and pandas' NA alike
            typed[name] = values.where(missing, values.map(
                lambda v: v if isinstance(v, str) else str(v))).where(~missing, None)
    _check_schema(typed, spec, source)
    return typed


def _check_schema(typed: pd.DataFrame, spec: ModelSpec, source: str) -> None:
    import pandera.errors as pe

    try:
        schema = spec.inputs.to_pandera().select_columns(list(typed.columns))
        schema.validate(typed, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        shown = [(f"row {r['index']} column {r['column']!r}: " if r["index"] is not None else "")
                 + f"{r['failure_case']!r} ({r['check']})"
                 for _, r in cases.head(SHOWN_ROWS).iterrows()]
        more = f" and {len(cases) - SHOWN_ROWS} more" if len(cases) > SHOWN_ROWS else ""
        raise InputError(BAD_ROWS.format(path=source, n=len(cases), model=spec.name,
                                         cases="; ".join(shown) + more)) from None


def _truth(values: pd.Series, spec: ModelSpec, source: str) -> pd.Series:
    """Ground truth as stored: class index (a class's name, else its index) or value."""
    kind = output_kind(spec)
    known = values.notna().to_numpy()
    stored: list[float | int | None] = []
    bad: list[int] = []
    for i, value in enumerate(values.tolist()):
        if not known[i]:
            stored.append(None)
            continue
        if kind.is_classifier and str(value) in spec.classes:
            stored.append(spec.classes.index(str(value)))
            continue
        truth = kind.truth(value.item() if isinstance(value, np.generic) else value, spec)
        stored.append(truth)
        if truth is None:
            bad.append(i)
    if bad:
        raise InputError(BAD_TRUTH.format(path=source, column=spec.label_name,
                                          rows=bad[:SHOWN_ROWS],
                                          values=[values.iloc[i] for i in bad[:SHOWN_ROWS]],
                                          hint=kind.truth_hint(spec)))
    if kind.is_classifier:
        return pd.Series(stored, dtype="Int64" if not known.all() else "int64")
    return pd.Series([np.nan if v is None else v for v in stored], dtype="float64")


def _predictions(inputs: pd.DataFrame, spec: ModelSpec, loaded: "LoadedModel",
                 artifact: str) -> dict[str, object]:
    kind = output_kind(spec)
    try:
        outputs = kind.outputs(loaded.forward(inputs[list(spec.features)]), spec)
    except ValueError as exc:
        raise ConfigError(BAD_OUTPUT.format(path=artifact, model=spec.name, error=exc)) from exc
    parts = {"label": outputs.label, "score": outputs.score, "value": outputs.value,
             "probabilities": outputs.probabilities}
    bad = np.zeros(len(inputs), dtype=bool)
    for part in (outputs.score, outputs.value, outputs.probabilities):
        if part is not None:
            finite = np.isfinite(part)
            bad |= ~(finite.all(axis=1) if finite.ndim == 2 else finite)
    if bad.any():
        raise ConfigError(NOT_FINITE.format(path=artifact, model=spec.name,
                                            rows=np.flatnonzero(bad)[:SHOWN_ROWS].tolist()))
    return {name: (list(values) if values.ndim == 2 else values)
            for name, values in parts.items() if values is not None}


def _empty_reference(spec: ModelSpec) -> pd.DataFrame:
    dtypes = {"float": "float64", "int": "int64", "str": "object", "bool": "bool", "text": "object"}
    return pd.DataFrame({name: pd.Series(dtype=dtypes[spec.inputs.column(name).dtype])
                         for name in spec.input_columns})
