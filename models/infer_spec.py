"""``raigov models infer-spec``: a starting spec file (YAML, with comments saying what
to check) from a Parquet or CSV file of training or reference rows.

The output kind comes from the label column: two distinct values make a binary
classifier; a few (at most :data:`MAX_CLASSES`) strings or integers a multiclass one;
floats (or many integers) a regression model. Every other column becomes an input
column (ranges and categories as observed) and a feature, except the sensitive
columns, which are captured but reach the model only if listed as features too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml

from raigov.errors import InputError, did_you_mean
from raigov.models.spec import InputSchema

MAX_CLASSES = 20
NO_LABEL = "Column {label!r} is not in {path} (columns: {columns}).{hint}"
NO_SENSITIVE = "Sensitive column {name!r} is not in {path} (columns: {columns}).{hint}"
ONE_VALUE = "Label column {label!r} of {path} holds {n} distinct value(s); a model needs two or more."

HEADER = """\
# Model spec written by `raigov models infer-spec` from {path} ({rows} rows).
# Check every field before registering (`raigov models register --spec FILE`):
#   - output_kind: inferred as {kind} from the label column {label!r} ({why}).
#   - inputs.columns: ranges (min, max) and categories (allowed) are what the data
#     held; widen them to what the model may meet in service. Requests outside them
#     are rejected and quarantined.
#   - features: the columns the network reads, in the order of its input tensor.
#   - sensitive: captured with every prediction for fairness monitoring; they reach
#     the network only if they are features too.
"""
CLASSES_NOTE = """\
# classes: in the order of the network's outputs (for a binary model the positive
# class is positive_class; the network's one output is its logit or probability).
"""


def infer_kind(values: pd.Series) -> tuple[str, str]:
    """``(output_kind, why)`` from a label column."""
    present = values.dropna()
    distinct = present.nunique()
    if distinct == 2:
        return "binary", "2 distinct values"
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    integral = numeric and bool((present == present.round()).all())
    if distinct <= MAX_CLASSES and (not numeric or integral):
        return "multiclass", f"{distinct} distinct {'integers' if numeric else 'values'}"
    if numeric:
        return "regression", f"{distinct} distinct numbers"
    return "multiclass", f"{distinct} distinct values; many classes, check them"


def infer_spec_text(data: pd.DataFrame, *, label: str, sensitive: tuple[str, ...] = (),
                    name: str, path: str = "the data") -> str:
    """The YAML text of a starting spec for ``data``."""
    columns = [str(c) for c in data.columns]
    if label not in columns:
        raise InputError(NO_LABEL.format(label=label, path=path, columns=columns,
                                         hint=did_you_mean(label, columns)))
    for s in sensitive:
        if s not in columns:
            raise InputError(NO_SENSITIVE.format(name=s, path=path, columns=columns,
                                                 hint=did_you_mean(s, columns)))
    kind, why = infer_kind(data[label])
    if data[label].nunique() < 2:
        raise InputError(ONE_VALUE.format(label=label, path=path, n=data[label].nunique()))
    inputs = [c for c in columns if c != label]
    schema = InputSchema.infer(data[inputs])
    spec: dict[str, Any] = {"name": name, "output_kind": kind}
    body = {"inputs": {"columns": [_column(c.model_dump(mode="json")) for c in schema.columns]},
            "features": [c for c in inputs if c not in sensitive],
            "sensitive": list(sensitive), "label_name": label}
    text = HEADER.format(path=path, rows=len(data), kind=kind, label=label, why=why)
    text += _dump(spec) + _dump(body)
    if kind != "regression":
        classes = sorted(str(v) for v in data[label].dropna().unique())
        text += CLASSES_NOTE + _dump({"classes": classes})
        if kind == "binary":
            text += _dump({"positive_class": classes[-1], "threshold": 0.5})
    text += _dump({"returns": "logits", "tags": [], "card": {"owner": None, "description": None}})
    return text


def _column(dumped: dict[str, Any]) -> dict[str, Any]:
    """A column as written: only the fields that say something (int bounds as ints)."""
    out = {k: v for k, v in dumped.items()
           if not (v is None or (k == "description" and v == "") or (k == "nullable" and not v))}
    if out.get("dtype") == "int":
        out.update({k: int(out[k]) for k in ("min", "max") if k in out})
    return out


class _Dumper(yaml.SafeDumper):
    """Block mappings; lists of scalars on one line."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)
