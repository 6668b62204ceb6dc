"""Helpers for the report tests: the catalog's own figures (read independently of the
report code) and model copies registered under other names or with other cards."""

from __future__ import annotations

import shutil

import pandas as pd

from raigov.models.registry import RegisteredModel, get_model, register_model
from raigov.monitors.store import read_metric_rows
from raigov.home import Home

DEMO_MODELS = ("income-classifier", "credit-risk")
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def catalog_figure(home: Home, model: str, metric: str, segment: str = "all",
                   start: str | None = None) -> pd.Series:
    """One row of the catalog: in window ``start`` (ISO), else the latest window where
    the figure is usable (status ok)."""
    rows = read_metric_rows(home, model=model)
    rows = rows[(rows["metric"] == metric) & (rows["segment"] == segment)]
    if start is not None:
        rows = rows[rows["window_start"] == pd.Timestamp(start)]
    else:
        rows = rows[rows["status"] == "ok"]
    assert not rows.empty, f"no {metric} [{segment}] row for {model}"
    return rows.sort_values("window_start").iloc[-1]


def register_copy(home: Home, source: str, *, name: str | None = None,
                  **card_changes: object) -> RegisteredModel:
    """Register ``source``'s latest version again, renamed and/or with card fields
    changed (a new version when the name stays)."""
    model = get_model(home, source)
    spec = model.spec.model_copy(update={
        "name": name or model.spec.name,
        "card": model.spec.card.model_copy(update=card_changes)})
    artifact = home.root / "tmp-artifact"
    shutil.copytree(model.artifact_dir, artifact, dirs_exist_ok=True)
    try:
        return register_model(home, spec, artifact=artifact,
                              reference=model.load_reference(), actor="test")
    finally:
        shutil.rmtree(artifact, ignore_errors=True)
