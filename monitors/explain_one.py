"""Why one decision: a captured prediction's inputs, its output and each feature's
contribution, recomputed with the registered version's network (``raigov explain``,
and the dashboard's prediction explorer).

The explained output is the network's raw output for the decision (binary: the
positive class's logit; multiclass: the predicted class's; regression: the value; a
probability where ``spec.returns`` says so). ``baseline + sum(contributions) == output``
within the method's completeness bound, and the answer states both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.errors import ConfigError, NotFoundError
from raigov.models.output_kinds import output_kind
from raigov.models.spec import ModelSpec
from raigov.monitors.attribution_methods import AUTO, explain_frame
from raigov.monitors.attribution_targets import explain_target
from raigov.monitors.explain_cache import cached_fit
from raigov.monitors.shap_explainer import DEFAULT_BACKGROUND, AdditivityError

if TYPE_CHECKING:
    from raigov.home import Home

UNKNOWN_PREDICTION = ("No prediction with id {prediction_id!r} for model {model!r} in the "
                      "lake of {home}.")
NOT_EXPLAINABLE = "Model {model!r} version {version} cannot be explained: {reason}."
NOT_FINITE = ("The prediction's network input is not finite (inputs {inputs} are missing "
              "or NaN), so it cannot be put on an attribution path.")
OFF_BOUND = ("The attributions miss the model's output by {error:.3g}, above the bound "
             "{bound:.3g} of method {method}.")
NO_SPEC = "Model artifact {path} holds no spec.json (a registered version has one)."
CAPTURED = ("label", "score", "value", "probabilities")


def spec_of_artifact(artifact_dir: str | Path) -> ModelSpec:
    path = Path(artifact_dir) / "spec.json"
    if not path.is_file():
        raise ConfigError(NO_SPEC.format(path=Path(artifact_dir)))
    return ModelSpec.model_validate(json.loads(path.read_text(encoding="utf-8")))


def explain_inputs(artifact_dir: str | Path | None, spec: ModelSpec, inputs: dict[str, Any], *,
                   reference: pd.DataFrame, version: int | None = None, seed: int = 0,
                   background_size: int = DEFAULT_BACKGROUND, device: str | None = None,
                   method: str = AUTO) -> dict[str, Any]:
    """One row's explanation (keys: see the module docstring and the README)."""
    model, fitted = cached_fit(artifact_dir, spec, reference=reference, seed=seed,
                               background_size=background_size, device=device, method=method)
    if fitted is None:
        reason = getattr(model, "reason", "no network to explain")
        raise ConfigError(NOT_EXPLAINABLE.format(model=spec.name, version=version or "?",
                                                 reason=reason))
    frame = pd.DataFrame([{c: inputs.get(c) for c in spec.input_columns}])
    found = explain_frame(fitted, frame)
    if found.n == 0:
        x = np.asarray(model.encode(frame), dtype=np.float64)[0]
        bad = [n for n, v in zip(model.input_names, x) if not np.isfinite(v)]
        raise ConfigError(NOT_FINITE.format(inputs=bad))
    target = explain_target(spec)
    k = int(found.decision[0])
    error, bound = float(found.errors[0, k]), float(found.bound[k])
    if error > bound:
        raise AdditivityError(OFF_BOUND.format(error=error, bound=bound,
                                               method=fitted.method.name))
    plain = {f: _plain(frame[f].iloc[0]) for f in spec.input_columns}
    values = found.values[0, k]
    order = np.argsort(-np.abs(values), kind="stable")
    contributions = [{"feature": spec.features[j], "value": plain[spec.features[j]],
                      "contribution": float(values[j]), "shap": float(values[j])}
                     for j in order]
    raw = model.forward(frame)
    prediction = output_kind(spec).response_rows(output_kind(spec).outputs(raw, spec), spec)[0]
    output = float(found.outputs[0, k])
    baseline = float(found.baseline[k])
    base_input = fitted.baseline_input
    return {"model": spec.name, "version": version, "output_kind": spec.output_kind,
            "method": fitted.method.name, "output": target.unit(spec),
            "output_meaning": target.meaning(spec), "explained": target.names(spec)[k],
            "output_value": output, "baseline": baseline,
            "baseline_input": None if base_input is None else dict(
                zip(model.input_names, map(float, base_input))),
            "contributions": contributions, "inputs": plain, "prediction": prediction,
            "completeness_error": error, "completeness_bound": bound,
            "background_size": fitted.background_size, "device": model.device,
            # the names the dashboard's waterfall reads
            "base_value": baseline, "logit": output, "probability": prediction.get("score"),
            "max_additivity_error": error}


def explain_prediction(artifact_dir: str | Path, row: dict[str, Any] | pd.Series, *,
                       reference: pd.DataFrame, spec: ModelSpec | None = None,
                       seed: int = 0, background_size: int = DEFAULT_BACKGROUND,
                       device: str | None = None) -> dict[str, Any]:
    """:func:`explain_inputs` of a row; ``spec`` defaults to the artifact's
    ``spec.json`` (the dashboard's "why this decision?")."""
    return explain_inputs(artifact_dir, spec or spec_of_artifact(artifact_dir), dict(row),
                          reference=reference, seed=seed, background_size=background_size,
                          device=device)


def find_prediction(home: "Home", model: str, prediction_id: str) -> dict[str, Any]:
    """The captured prediction (inputs, outputs, version, label) or NotFoundError."""
    from raigov.store.lake import lake_connection

    with lake_connection(home, model=model) as con:
        frame = con.execute("SELECT * EXCLUDE (model, date) FROM labelled "
                            "WHERE prediction_id = ? LIMIT 1", [prediction_id.strip()]).df()
    if frame.empty:
        from raigov.models.erasure import erased_at
        when = erased_at(home, model, prediction_id)
        if when is not None:
            raise NotFoundError(f"Prediction {prediction_id.strip()} of {model} was erased on "
                                f"{when:%Y-%m-%d %H:%M:%S} UTC (see the data.erased event in "
                                "the ledger).")
        raise NotFoundError(UNKNOWN_PREDICTION.format(prediction_id=prediction_id, model=model,
                                                      home=home.root))
    return {k: _plain(v) for k, v in frame.iloc[0].to_dict().items()}


def explain_prediction_id(home: "Home", model: str, prediction_id: str, *,
                          version: int | None = None, device: str | None = None,
                          method: str = AUTO) -> dict[str, Any]:
    """``raigov explain``: the captured prediction ``prediction_id`` of ``model``,
    explained with ``version``'s network (default: the version that made it)."""
    from raigov.models.registry import get_model

    get_model(home, model)  # an unknown model is named before the lake is read
    record = find_prediction(home, model, prediction_id)
    registered = get_model(home, model, version or int(record["version"]))
    result = text_explanation(registered, record)
    if result is None:
        result = explain_inputs(registered.artifact_dir, registered.spec, record,
                                reference=registered.load_reference(),
                                version=registered.version, device=device, method=method)
    captured = {k: record.get(k) for k in CAPTURED if record.get(k) is not None}
    return {**result, "prediction_id": record["prediction_id"], "ts": record.get("ts"),
            "captured_version": int(record["version"]), "captured": captured,
            "y_true": record.get("y_true")}


def text_explanation(registered: Any, record: dict[str, Any]) -> dict[str, Any] | None:
    """Token attributions where the version's network reads token ids, else None."""
    from raigov.models.artifacts.load import artifact_format
    from raigov.models.artifacts.text_head import FORMAT
    from raigov.monitors.explain_text import explain_text_inputs

    if artifact_format(registered.artifact_dir).name != FORMAT:
        return None
    return explain_text_inputs(registered.load(device="cpu"), record,
                               version=registered.version)


def _plain(value: Any) -> Any:
    """A JSON-friendly value: numpy scalars and arrays to Python, missing to None."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
