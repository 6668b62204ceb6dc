"""Why one decision of a text model: its tokens with their attributions
(:mod:`raigov.monitors.attribution_tokens`), for ``raigov explain`` and the dashboard:
``tokens`` as the model saw them and ``words`` (pieces summed, with each word's
``[start, end)`` characters in ``text``, for highlighting the text itself). The text is
returned as data, never as markup: whoever shows it escapes it."""

from __future__ import annotations

from typing import Any

import numpy as np

from raigov.errors import ConfigError
from raigov.models.output_kinds import output_kind

OFF_BOUND = ("The token attributions miss the logit by {error:.3g} after {steps} steps, "
             "above the bound {bound:.3g}.")


def explain_text_inputs(model: Any, inputs: dict[str, Any], *,
                        version: int | None) -> dict[str, Any]:
    """One row's token attributions (the positive class's logit)."""
    import pandas as pd

    from raigov.monitors.attribution_tokens import attribute_texts

    spec = model.spec
    text = inputs.get(model.column)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"prediction has no text in column {model.column!r} to explain")
    [found] = attribute_texts(model, [text])
    if not found.within_bound:
        raise ConfigError(OFF_BOUND.format(error=found.completeness_error,
                                           steps=found.n_steps, bound=found.bound))
    frame = pd.DataFrame([{c: inputs.get(c) for c in spec.input_columns}])
    kind = output_kind(spec)
    prediction = kind.response_rows(kind.outputs(model.forward(frame), spec), spec)[0]
    tokens = [{"position": i, "token": t, "attribution": float(a)}
              for i, (t, a) in enumerate(zip(found.tokens, found.attributions))]
    words = [{"word": w.text, "attribution": w.attribution, "start": w.start, "end": w.end}
             for w in found.words]
    order = np.argsort(-np.abs(found.attributions), kind="stable")
    return {"model": spec.name, "version": version, "output_kind": spec.output_kind,
            "method": "layer_integrated_gradients", "output": "logit",
            "explained": spec.positive_class, "column": model.column, "text": text,
            "output_value": found.logit, "baseline": found.baseline_logit,
            "baseline_input": "[CLS] [PAD]... [SEP]", "tokens": tokens,
            "words": words, "top_tokens": [tokens[j] for j in order[:10]],
            "inputs": {c: inputs.get(c) for c in spec.input_columns},
            "prediction": prediction, "completeness_error": found.completeness_error,
            "completeness_bound": found.bound, "n_steps": found.n_steps,
            "device": "cpu"}
