"""The demo models: an income classifier on Adult and a credit-risk scorer on German
credit (binary, raigov's :class:`raigov.models.tabular.TabularMLP`), and two networks
exported with ``torch.export`` as a user's own would be (:mod:`raigov.models.demo_networks`):
``hours-estimator`` (regression: weekly working hours on Adult) and ``job-sector``
(multiclass: Adult's work class collapsed to private, self-employed and government);
and ``review-sentiment`` (binary, text: the frozen MiniLM encoder under a logistic head,
:mod:`raigov.models.demo_text`).
Each comes with its spec, reference data, held-out rows and test figures.

Sensitive attributes travel with every request and are captured, but are not model
inputs ("fairness through unawareness"). On Adult that still fails a four-fifths
selection-rate rule by sex, because ``relationship`` (Husband / Wife) and
``marital_status`` carry sex: the realistic incident the demo shows.

On German credit ``foreign_worker`` is a sensitive attribute and deliberately *not* a
feature: treating applicants differently by nationality or origin is unlawful in many
jurisdictions, and with 963 of 1,000 applicants "yes" the column has little signal to
lose. ``sex`` is derived from ``status_sex`` (which mixes
sex and marital status), so both stay out of the features; ``age`` stays in (a
legitimate credit factor in most jurisdictions; monitor it where it is protected).

Ground truth is held as the lake holds it (``y_true``: the class index of a classifier,
the value of a regression model) and written as a user writes it (class names, values)
where it leaves for a file or the feedback route. torch is imported only when a model
is trained, so listing the demo models is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raigov.errors import NotFoundError, did_you_mean
from raigov.models.datasets import ADULT_LABEL, GERMAN_LABEL, load_adult, load_german
from raigov.models.demo_cards import (ADULT_CARD, GERMAN_CARD, HOURS_CARD, REVIEWS_CARD,
                                      SECTOR_CARD)
from raigov.models.demo_trainers import EXPORTED, TABULAR, TEXT_HEAD, DemoTrainer
from raigov.models.output_kinds import Outputs, output_kind
from raigov.models.spec import CardMeta, ColumnSpec, InputSchema, ModelSpec, MonitoringConfig

REFERENCE_ROWS = 5000
SCHEMA_MARGIN = 0.1  # numeric ranges widened by 10% of the observed range
MSG_UNKNOWN_DEMO = "Unknown demo model {name!r} (demo models: {known}).{hint}"
HOURS_LABEL = "hours_per_week"
SECTOR_LABEL = "job_sector"
SECTORS = {"Private": "private", "Self-emp-not-inc": "self-employed",
           "Self-emp-inc": "self-employed", "Federal-gov": "government",
           "Local-gov": "government", "State-gov": "government"}
SPEC_FILE = "spec.yaml"
REFERENCE_FILE = "reference.parquet"
ARTIFACT_DIR = "artifact"

# (training rows, held-out rows, every row) for a seed
Splitter = Callable[[int], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]
# test figures from the true values and the predictions
Scorer = Callable[[np.ndarray, Outputs], dict[str, float]]


def binary_metrics(y: np.ndarray, outputs: Outputs) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    return {"accuracy": float(accuracy_score(y, outputs.label)),
            "roc_auc": float(roc_auc_score(y, outputs.score))}


def regression_metrics(y: np.ndarray, outputs: Outputs) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {"mae": float(mean_absolute_error(y, outputs.value)),
            "rmse": float(np.sqrt(mean_squared_error(y, outputs.value))),
            "r2": float(r2_score(y, outputs.value))}


def multiclass_metrics(y: np.ndarray, outputs: Outputs) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y, outputs.label)),
            "f1_macro": float(f1_score(y, outputs.label, average="macro"))}


@dataclass(frozen=True)
class DemoDefinition:
    """What a demo model is made of; :func:`build_demo_model` turns it into one.
    ``training``: the trainer's options (``TrainConfig`` or ``NetworkConfig`` fields);
    ``columns``: input columns declared as they are (a text column), the rest inferred
    from the data; ``reference_rows``: the size of the reference sample."""

    name: str
    label: str
    features: tuple[str, ...]
    sensitive: tuple[str, ...]
    card: CardMeta
    split: Splitter
    classes: tuple[str, ...] = ()
    positive_class: str = "1"
    output_kind: str = "binary"
    trainer: DemoTrainer = TABULAR
    scorer: Scorer = binary_metrics
    intersections: tuple[tuple[str, ...], ...] = ()
    tags: tuple[str, ...] = ()
    training: dict[str, Any] = field(default_factory=dict)
    columns: tuple[ColumnSpec, ...] = ()
    reference_rows: int = REFERENCE_ROWS


@dataclass(frozen=True)
class DemoModel:
    """A trained demo model with everything needed to register and exercise it.

    ``reference``: a seeded sample of training rows (input columns, ``y_true`` and the
    model's own predictions in the lake's columns for its kind: ``label``, ``score``,
    ``value``, ``probabilities``); ``heldout``: the test rows (input columns,
    ``y_true``); ``test_metrics``: the definition's scorer on them."""

    spec: ModelSpec
    trained: Any
    reference: pd.DataFrame
    heldout: pd.DataFrame
    test_metrics: dict[str, float]
    definition: "DemoDefinition | None" = None


def _adult_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    del seed  # Adult ships its own split: adult.data / adult.test
    full = load_adult("all")
    return (full[full["split"] == "train"].reset_index(drop=True),
            full[full["split"] == "test"].reset_index(drop=True), full)


def _sector_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Adult's own split, rows with a work class of one of the three sectors."""
    del seed
    full = load_adult("all")
    full = full[full["workclass"].isin(list(SECTORS))].reset_index(drop=True)
    full[SECTOR_LABEL] = full["workclass"].map(SECTORS).astype(object)
    return (full[full["split"] == "train"].reset_index(drop=True),
            full[full["split"] == "test"].reset_index(drop=True), full)


def _german_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    full = load_german()
    train, test = train_test_split(full, test_size=0.3, random_state=seed,
                                   stratify=full[GERMAN_LABEL])
    return train.reset_index(drop=True), test.reset_index(drop=True), full


def _reviews_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from raigov.models.demo_text import demo_split

    return demo_split(seed)


def _review_column() -> ColumnSpec:
    from raigov.models.demo_text import ENCODER, MAX_LENGTH

    return ColumnSpec(name="review", dtype="text", tokenizer=ENCODER, max_length=MAX_LENGTH,
                      description="A film-review snippet (English)")


_CENSUS_WORK = ("age", "education", "education_num", "marital_status", "occupation",
                "relationship", "capital_gain", "capital_loss")
DEMO_MODELS: dict[str, DemoDefinition] = {
    "income-classifier": DemoDefinition(
        name="income-classifier", label=ADULT_LABEL,
        features=("age", "workclass", "education", "education_num", "marital_status",
                  "occupation", "relationship", "capital_gain", "capital_loss",
                  "hours_per_week", "native_country"),
        sensitive=("sex", "race"), classes=("<=50K", ">50K"), positive_class=">50K",
        card=ADULT_CARD, split=_adult_split, intersections=(("sex", "race"),),
        tags=("demo", "binary-classifier", "tabular", "census", "income")),
    "credit-risk": DemoDefinition(
        name="credit-risk", label=GERMAN_LABEL,
        features=("status", "duration", "credit_history", "purpose", "credit_amount",
                  "savings", "present_employment", "installment_rate", "other_debtors",
                  "present_residence_since", "property", "age", "installment_plans",
                  "housing", "number_of_existing_credits", "job",
                  "number_of_people_liable_for", "telephone"),
        sensitive=("sex", "foreign_worker"), classes=("bad", "good"),
        positive_class="good", card=GERMAN_CARD, split=_german_split,
        tags=("demo", "binary-classifier", "tabular", "credit"),
        # 700 rows: smaller batches give early stopping enough steps to judge by, and
        # more dropout keeps 120 encoded columns from being memorised.
        training={"batch_size": 64, "dropout": 0.4}),
    "hours-estimator": DemoDefinition(
        name="hours-estimator", label=HOURS_LABEL,
        features=("age", "workclass", *_CENSUS_WORK[1:], "native_country"),
        sensitive=("sex", "race"), output_kind="regression", card=HOURS_CARD,
        split=_adult_split, trainer=EXPORTED, scorer=regression_metrics,
        intersections=(("sex", "race"),),
        tags=("demo", "regressor", "tabular", "census", "hours"),
        training={"loss": "mse"}),
    "job-sector": DemoDefinition(
        name="job-sector", label=SECTOR_LABEL,
        features=(*_CENSUS_WORK, "hours_per_week", "native_country"),
        sensitive=("sex", "race"), classes=("private", "self-employed", "government"),
        output_kind="multiclass", card=SECTOR_CARD, split=_sector_split, trainer=EXPORTED,
        scorer=multiclass_metrics, intersections=(("sex", "race"),),
        tags=("demo", "multiclass-classifier", "tabular", "census", "sector"),
        training={"loss": "cross_entropy"}),
    "review-sentiment": DemoDefinition(
        name="review-sentiment", label="fresh", features=("review",),
        sensitive=("mentions",), classes=("rotten", "fresh"), positive_class="fresh",
        card=REVIEWS_CARD, split=_reviews_split, trainer=TEXT_HEAD,
        tags=("demo", "binary-classifier", "text", "reviews"),
        columns=(_review_column(),),
        # each reference text is embedded again by drift.embedding in every window
        reference_rows=300),
}


def demo_definition(name: str) -> DemoDefinition:
    definition = DEMO_MODELS.get(name)
    if definition is None:
        raise NotFoundError(MSG_UNKNOWN_DEMO.format(
            name=name, known=sorted(DEMO_MODELS), hint=did_you_mean(name, DEMO_MODELS)))
    return definition


def demo_spec(definition: DemoDefinition, full: pd.DataFrame) -> ModelSpec:
    """The model spec, with the input schema inferred from every row of the data set
    (so held-out categories are allowed), nullable where the data has nulls, except
    for the columns the definition declares."""
    declared = {c.name: c for c in definition.columns}
    columns = list(definition.features) + list(definition.sensitive)
    schema = InputSchema.infer(full[[c for c in columns if c not in declared]],
                               margin=SCHEMA_MARGIN)
    inferred = {c.name: c for c in schema.columns}
    widened = []
    for name in columns:
        col = declared.get(name) or inferred[name]
        if col.min is not None and col.min < 0 <= full[col.name].min():
            col = col.model_copy(update={"min": 0})  # a count or an age never goes below zero
        widened.append(col)
    return ModelSpec(
        name=definition.name, output_kind=definition.output_kind,
        inputs=InputSchema(columns=tuple(widened)),
        features=definition.features, sensitive=definition.sensitive,
        label_name=definition.label, classes=definition.classes,
        positive_class=definition.positive_class, tags=definition.tags,
        card=definition.card,
        monitoring=MonitoringConfig(intersections=definition.intersections))


def truth_values(values: pd.Series, spec: ModelSpec) -> np.ndarray:
    """Ground truth as the lake holds it: class indices (int64) for a classifier (from
    class names or indices), values (float64) for a regression model."""
    kind = output_kind(spec)
    truth = [kind.truth(v.item() if isinstance(v, np.generic) else v, spec)
             for v in values.tolist()]
    return np.asarray(truth, dtype=np.int64 if kind.is_classifier else np.float64)


def label_values(y_true: np.ndarray, spec: ModelSpec) -> list[str | float]:
    """Ground truth as a user sends it: class names for a classifier, values (floats)
    for a regression model."""
    if output_kind(spec).is_classifier:
        return [spec.classes[int(y)] for y in y_true]
    return [float(y) for y in y_true]


def with_truth(rows: pd.DataFrame, labels: pd.Series, spec: ModelSpec) -> pd.DataFrame:
    """``rows``' input columns and ``y_true``, read from ``labels``."""
    out = rows[spec.input_columns].reset_index(drop=True)
    out["y_true"] = truth_values(labels.reset_index(drop=True), spec)
    return out


def predicted_columns(trainer: DemoTrainer, trained: Any, rows: pd.DataFrame,
                      spec: ModelSpec) -> dict[str, Any]:
    """The model's predictions for ``rows`` in the lake's columns for its kind."""
    outputs = output_kind(spec).outputs(trainer.forward(trained, rows), spec)
    parts = {"score": outputs.score, "value": outputs.value,
             "probabilities": outputs.probabilities, "label": outputs.label}
    return {name: (list(v) if v.ndim == 2 else v) for name, v in parts.items() if v is not None}


def build_demo_model(name: str, *, seed: int = 0) -> DemoModel:
    """Train the demo model ``name`` (seconds on a CPU) and gather its data."""
    definition = demo_definition(name)
    train, test, full = definition.split(seed)
    spec = demo_spec(definition, full)
    rows = with_truth(train, train[definition.label], spec)
    trained = definition.trainer.train(rows, spec=spec, seed=seed, options=definition.training)
    reference = rows.sample(n=min(definition.reference_rows, len(rows)), random_state=seed)
    reference = reference.reset_index(drop=True)
    for column, values in predicted_columns(definition.trainer, trained, reference, spec).items():
        reference[column] = values
    heldout = with_truth(test, test[definition.label], spec)
    outputs = output_kind(spec).outputs(definition.trainer.forward(trained, heldout), spec)
    metrics = definition.scorer(heldout["y_true"].to_numpy(), outputs)
    return DemoModel(spec, trained, reference, heldout, metrics, definition)


@dataclass(frozen=True)
class ModelFiles:
    """A model as a user hands it to ``raigov models register``."""

    spec: Path
    artifact: Path
    reference: Path


def write_model_files(directory: str | Path, *, trainer: DemoTrainer, trained: Any,
                      spec: ModelSpec, reference: pd.DataFrame) -> ModelFiles:
    """Write ``spec.yaml``, the artifact and ``reference.parquet`` (input columns and
    the ground truth under ``spec.label_name``, as class names or values) into
    ``directory``: what ``raigov models register --spec --artifact --reference`` takes."""
    import yaml

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    spec_path = root / SPEC_FILE
    spec_path.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True),
                                        sort_keys=False, allow_unicode=True), encoding="utf-8")
    artifact = trainer.save(trained, root / ARTIFACT_DIR)
    from raigov.models.demo_networks import as_sent

    table = as_sent(reference[spec.input_columns].reset_index(drop=True))
    table[spec.label_name] = label_values(reference["y_true"].to_numpy(), spec)
    table.to_parquet(root / REFERENCE_FILE, index=False)
    return ModelFiles(spec_path, artifact, root / REFERENCE_FILE)
