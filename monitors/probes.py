"""Counterfactual probes before release: score template sentences that differ only in
the identity term through the model's own forward pass, and report each group's
``fairness.counterfactual_gap`` as metric rows that policies judge.

The gap of group g is the mean, over templates, of g's score on the template (the mean
over its phrases of P(positive class)) minus the mean of every group's score on the
same template: 0 when the identity term changes nothing, negative when the group's
sentences are scored lower than the all-groups mean (Dixon et al. 2018's per-term
comparison against the mean; not the EEC's pairwise difference between two groups).
Its interval is a percentile bootstrap over templates (seeded). Details: the group's
mean score, its worst template and the largest per-template gap.

The rows are recorded in the catalog as a probe run of the version: a window whose
start equals its end (the probe time), apart from the live windows, which never have
length zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from raigov.errors import ConfigError
from raigov.models.identity_terms import DEFAULT_LIST, resolve_terms
from raigov.monitors.base import MetricRow
from raigov.monitors.counts import make_rng, percentile_interval
from raigov.monitors.fairness_text import PROBE_METRIC
from raigov.monitors.probe_templates import (Template, probe_phrases, read_templates,
                                             shipped_templates)

if TYPE_CHECKING:
    from raigov.home import Home
    from raigov.models.spec import ModelSpec

NOT_A_TEXT_MODEL = ("model {model!r} has no text column to probe (columns: {columns}); "
                    "probes need a text model")
NOT_BINARY = ("probes score P(positive class) of a binary model; model {model!r} is "
              "{kind}")


@dataclass(frozen=True)
class ProbeResult:
    rows: list[MetricRow]
    sentences: pd.DataFrame   # template, group, phrase, text, score
    column: str


def probe_column(spec: "ModelSpec") -> tuple[str, dict[str, tuple[str, ...]], bool]:
    """The text column probed, its groups and whether they are the shipped list."""
    if spec.output_kind != "binary":
        raise ConfigError(NOT_BINARY.format(model=spec.name, kind=spec.output_kind))
    texts = [c for c in spec.inputs.columns if c.dtype == "text" and c.name in spec.features]
    if not texts:
        raise ConfigError(NOT_A_TEXT_MODEL.format(model=spec.name,
                                                  columns=", ".join(spec.inputs.names)))
    col = next((c for c in texts if c.identity_terms is not None), texts[0])
    terms = col.identity_terms if col.identity_terms is not None else DEFAULT_LIST
    return col.name, resolve_terms(col.name, terms), terms == DEFAULT_LIST


def probe_sentences(templates: list[Template],
                    phrases: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    rows = [{"template": i, "group": g, "phrase": p, "text": t.fill(p)}
            for i, t in enumerate(templates) for g, ps in phrases.items() for p in ps]
    return pd.DataFrame(rows)


def prepare_probes(spec: "ModelSpec", *, templates: str | Path | None = None
                   ) -> tuple[str, pd.DataFrame]:
    """The probed column and its sentences (errors here come before any scoring)."""
    column, groups, shipped = probe_column(spec)
    chosen = shipped_templates() if templates is None else read_templates(templates)
    return column, probe_sentences(chosen, probe_phrases(groups, shipped=shipped))


def score_probes(model: object, spec: "ModelSpec", column: str, texts: list[str], *,
                 chunk: int = 64, on_chunk: Callable[[int], None] | None = None) -> np.ndarray:
    """P(positive class) of each text through ``model.forward`` (in chunks)."""
    out = []
    for start in range(0, len(texts), chunk):
        part = texts[start:start + chunk]
        frame = pd.DataFrame({c: [None] * len(part) for c in spec.input_columns})
        frame[column] = part
        raw = np.asarray(model.forward(frame), dtype=float).reshape(len(part), -1)[:, 0]
        out.append(raw if spec.returns == "probabilities" else 1 / (1 + np.exp(-raw)))
        if on_chunk is not None:
            on_chunk(len(part))
    return np.concatenate(out) if out else np.zeros(0)


def run_probes(model: object, spec: "ModelSpec", *, templates: str | Path | None = None,
               bootstrap: int | None = None, seed: int = 0, confidence: float = 0.95,
               on_chunk: Callable[[int], None] | None = None) -> ProbeResult:
    """Score the probe sentences with ``model`` (a loaded model: ``forward(df)``) and
    compute each group's gap."""
    column, sentences = prepare_probes(spec, templates=templates)
    sentences["score"] = score_probes(model, spec, column, sentences["text"].tolist(),
                                      on_chunk=on_chunk)
    replicates = spec.monitoring.bootstrap if bootstrap is None else bootstrap
    rows = gap_rows(sentences, column=column, replicates=replicates, seed=seed,
                    confidence=confidence, source="shipped" if templates is None
                    else str(templates))
    return ProbeResult(rows, sentences, column)


def gap_rows(sentences: pd.DataFrame, *, column: str, replicates: int, seed: int,
             confidence: float, source: str) -> list[MetricRow]:
    """One row per group from the scored sentences."""
    table = sentences.pivot_table(index="template", columns="group", values="score",
                                  aggfunc="mean", sort=False)
    gaps = table.sub(table.mean(axis=1), axis=0)           # template x group
    rng = make_rng(seed, f"probes:{column}")
    picks = rng.integers(0, len(gaps), size=(replicates, len(gaps)))
    boot = gaps.to_numpy()[picks].mean(axis=1) if replicates else np.zeros((0, gaps.shape[1]))
    rows = []
    for j, group in enumerate(gaps.columns):
        value = float(gaps[group].mean())
        low, high, used = percentile_interval(boot[:, j], estimate=value, confidence=confidence)
        worst = int(gaps[group].abs().idxmax())
        rows.append(MetricRow(
            metric=PROBE_METRIC.name, value=value, segment=f"{column}_mentions={group}",
            ci_low=low, ci_high=high, n=int((sentences["group"] == group).sum()),
            details={"mean_score": float(table[group].mean()),
                     "max_abs_template_gap": float(gaps[group].abs().max()),
                     "worst_template": str(sentences.loc[sentences["template"] == worst,
                                                         "text"].iloc[0]),
                     "templates": int(len(gaps)), "template_source": source,
                     "definition": "mean over templates of group score minus the "
                                   "all-groups mean", "ci_method": "bootstrap over "
                     "templates" if replicates else "none", "bootstrap_valid": used,
                     "confidence": confidence}))
    return rows


def record_probes(home: "Home", *, model: str, version: int, result: ProbeResult,
                  at: dt.datetime | None = None) -> dt.datetime:
    """Write the probe rows as the version's probe run (a zero-length window)."""
    from raigov.canonical import utcnow
    from raigov.ids import uuid7
    from raigov.monitors.store import write_window

    moment = at or utcnow()
    write_window(home, model=model, version=version, start=moment, end=moment,
                 rows=result.rows, n_rows=len(result.sentences), n_labelled=0,
                 run_id=f"probe-{uuid7()}")
    return moment
