"""Bring-your-own-model material on real data (Adult, vendored): for each output
kind, a network written by the user (:mod:`tests.serving.user_nets`), trained
briefly, exported with ``torch.export``; its spec as a YAML file; a reference file.
What each model computes is checked against the user's own encoding and the
program's own outputs, never against raigov's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tests.serving import user_nets

ADULT = Path(__file__).parents[2] / "models" / "demo_data" / "adult.parquet"
SENSITIVE = ["sex", "race"]


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    label: str
    features: tuple[str, ...]
    loss: str
    returns: str = "logits"


TASKS = {
    "relationship": Task("relationship", "multiclass", "relationship",
                         ("age", "education_num", "hours_per_week", "capital_gain", "sex",
                          "marital_status", "workclass"), "ce"),
    "hours": Task("hours", "regression", "hours_per_week",
                  ("age", "education_num", "sex", "marital_status", "relationship",
                   "workclass", "occupation"), "mse"),
    "income": Task("income", "binary", "income",
                   ("age", "education_num", "hours_per_week", "capital_gain", "sex", "race",
                    "marital_status", "workclass"), "bce", returns="probabilities"),
}


def adult() -> pd.DataFrame:
    """Adult with text columns as Python objects (None for missing)."""
    df = pd.read_parquet(ADULT).drop(columns=["split"])
    for col in df.columns:
        if pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    df["income"] = df["income"].astype(np.int64)
    return df


def categories(data: pd.DataFrame, column: str) -> list[str]:
    return sorted(v for v in data[column].dropna().unique())


def columns_of(task: Task, data: pd.DataFrame) -> list[tuple[str, list[str] | None]]:
    """The contract's columns as the user sees them: ``(name, allowed or None)``."""
    return [(f, categories(data, f) if data[f].dtype == object else None) for f in task.features]


def spec_dict(task: Task, data: pd.DataFrame, *, name: str | None = None) -> dict:
    inputs = []
    for col in dict.fromkeys([*task.features, *SENSITIVE]):
        entry: dict = {"name": col}
        if data[col].dtype == object:
            entry.update(dtype="str", allowed=categories(data, col))
        else:
            entry.update(dtype="int", min=int(data[col].min()), max=int(data[col].max()))
        if data[col].isna().any():
            entry["nullable"] = True
        inputs.append(entry)
    spec = {"name": name or task.name, "output_kind": task.kind, "inputs": {"columns": inputs},
            "features": list(task.features), "sensitive": SENSITIVE, "label_name": task.label,
            "returns": task.returns, "tags": ["adult", task.kind]}
    if task.kind == "multiclass":
        spec["classes"] = categories(data, task.label)
    elif task.kind == "binary":
        spec.update(classes=["0", "1"], positive_class="1")
    return spec


def targets(task: Task, frame: pd.DataFrame, data: pd.DataFrame) -> np.ndarray:
    if task.kind == "multiclass":
        classes = categories(data, task.label)
        return np.array([classes.index(v) for v in frame[task.label]], dtype=np.int64)
    return frame[task.label].to_numpy(dtype=np.float32)


def build(task: Task, data: pd.DataFrame, root: Path, *, train_rows: int = 4000,
          seed: int = 0) -> dict[str, Path]:
    """Train, export and write the spec and reference of ``task`` under ``root``."""
    import torch

    torch.manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    cols = columns_of(task, data)
    train = data.sample(n=train_rows, random_state=seed)
    x = user_nets.encode(train, cols)
    outputs = len(categories(data, task.label)) if task.kind == "multiclass" else 1
    net, params = user_nets.make_net(x, cols, outputs)
    user_nets.train(net, x, targets(task, train, data), task.loss, seed=seed)
    if task.returns == "probabilities":
        params = {**params, "sigmoid": True}
        net_out = user_nets.AdultNet(**params)
        net_out.load_state_dict(net.state_dict())
        net = net_out.eval()
    artifact = root / "artifact"
    artifact.mkdir(exist_ok=True)
    user_nets.export(net, len(cols), artifact / "model.pt2")
    module_dir = root / "module"
    from raigov.models.artifacts import save_module

    save_module(module_dir, net, "adult_net", params)
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(task, data), sort_keys=False))
    reference = root / "reference.parquet"
    ref = data.sample(n=1000, random_state=seed + 1)
    ref[[*dict.fromkeys([*task.features, *SENSITIVE, task.label])]].to_parquet(reference)
    return {"artifact": artifact, "module": module_dir, "spec": spec, "reference": reference}


def program_outputs(program_path: Path, task: Task, rows: pd.DataFrame,
                    data: pd.DataFrame) -> np.ndarray:
    """The exported program's own raw output for ``rows`` (the user's encoding)."""
    import torch

    program = torch.export.load(str(program_path)).module()
    with torch.no_grad():
        out = program(torch.from_numpy(user_nets.encode(rows, columns_of(task, data))))
    return out.double().numpy()


def expected_rows(task: Task, raw: np.ndarray, data: pd.DataFrame) -> list[dict]:
    """What the response must say, from the raw output with scipy's functions."""
    from scipy.special import expit, softmax

    if task.kind == "multiclass":
        classes = categories(data, task.label)
        proba = softmax(raw, axis=1)
        return [{"label": int(p.argmax()), "class": classes[int(p.argmax())],
                 "score": float(p.max()), "probabilities": dict(zip(classes, p.tolist()))}
                for p in proba]
    if task.kind == "binary":
        p = raw.reshape(-1) if task.returns == "probabilities" else expit(raw.reshape(-1))
        return [{"label": int(v >= 0.5), "class": str(int(v >= 0.5)), "score": float(v)} for v in p]
    return [{"value": float(v)} for v in raw.reshape(-1)]


def request_rows(task: Task, frame: pd.DataFrame) -> list[dict]:
    cols = list(dict.fromkeys([*task.features, *SENSITIVE]))
    return [{k: (None if v is None or v != v else (v.item() if hasattr(v, "item") else v))
             for k, v in row.items()} for row in frame[cols].to_dict("records")]
