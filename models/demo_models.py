"""The two demo models: an income classifier on Adult and a credit-risk scorer on
German credit, each a :class:`raigov.models.tabular.TabularMLP` with its spec, reference data,
held-out rows and test figures.

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

torch is imported only inside :func:`build_demo_model`, so listing the demo models is
cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.models.datasets import ADULT_LABEL, GERMAN_LABEL, load_adult, load_german
from raigov.models.spec import CardMeta, InputSchema, ModelSpec, MonitoringConfig
from raigov.errors import NotFoundError, did_you_mean

if TYPE_CHECKING:
    from raigov.models.tabular import TrainedModel

REFERENCE_ROWS = 5000
SCHEMA_MARGIN = 0.1  # numeric ranges widened by 10% of the observed range
MSG_UNKNOWN_DEMO = "Unknown demo model {name!r} (demo models: {known}).{hint}"

# (training rows, held-out rows, every row) for a seed
Splitter = Callable[[int], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]


@dataclass(frozen=True)
class DemoDefinition:
    """What a demo model is made of; :func:`build_demo_model` turns it into one."""

    name: str
    label: str
    features: tuple[str, ...]
    sensitive: tuple[str, ...]
    classes: tuple[str, str]
    positive_class: str
    card: CardMeta
    split: Splitter
    intersections: tuple[tuple[str, ...], ...] = ()
    tags: tuple[str, ...] = ()
    training: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides


@dataclass(frozen=True)
class DemoModel:
    """A trained demo model with everything needed to register and exercise it.

    ``reference``: a seeded sample of training rows (input columns, ``y_true``,
    predicted ``label`` at ``spec.threshold`` and ``score``); ``heldout``: the test rows
    (input columns, ``y_true``); ``test_metrics``: accuracy and ROC AUC on them."""

    spec: ModelSpec
    trained: "TrainedModel"
    reference: pd.DataFrame
    heldout: pd.DataFrame
    test_metrics: dict[str, float]


def _adult_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    del seed  # Adult ships its own split: adult.data / adult.test
    full = load_adult("all")
    return (full[full["split"] == "train"].reset_index(drop=True),
            full[full["split"] == "test"].reset_index(drop=True), full)


def _german_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    full = load_german()
    train, test = train_test_split(full, test_size=0.3, random_state=seed,
                                   stratify=full[GERMAN_LABEL])
    return train.reset_index(drop=True), test.reset_index(drop=True), full


_ADULT_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A tabular PyTorch MLP that predicts whether a person's annual income "
                "exceeds $50K from 1994 US census attributes: age, education, work, "
                "marital status, relationship, capital gains and losses, hours per week "
                "and country of origin. Sex and race are captured with each request for "
                "fairness monitoring but are not model inputs.",
    intended_use="Demonstrating and testing raigov: serving, monitoring, fairness "
                 "policies, alerts and audit reports on a realistic model.",
    out_of_scope_uses="Any decision about real people (hiring, lending, insurance, "
                      "pricing, benefits or eligibility). The data describe the US "
                      "population of 1994, not today's nor any other population.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Sex, race and their intersection (captured, not inputs); age.",
    training_data="Adult (Census Income), Ronny Kohavi and Barry Becker, 1994 census "
                  "extract; UCI Machine Learning Repository, dataset 2, "
                  "https://doi.org/10.24432/C5XW20, CC BY 4.0. The 32,561 rows of "
                  "adult.data; a seeded, stratified 15% of them is held back for early "
                  "stopping. fnlwgt (a census sampling weight) is not used.",
    evaluation_data="The 16,281 rows of adult.test, the data set's own test split, "
                    "never seen in training.",
    ethical_considerations="Fairness through unawareness: sex and race are left out of "
                           "the inputs, yet relationship (Husband / Wife) and marital "
                           "status carry sex, and the base rate of >50K is 30.6% for "
                           "men and 10.9% for women in the training data. The model's "
                           "selection rate for women is far below four fifths of the "
                           "rate for men; leaving sex out is no fairness guarantee.",
    limitations="Census data from 1994: incomes are not adjusted for inflation and "
                "the population has changed. native_country is mostly United-States, "
                "so other countries have few examples. Missing workclass, occupation "
                "and native_country are modelled as their own category.",
    recommendations="Monitor the selection-rate ratio by sex and by race, and watch "
                    "the sex x race intersection, whose smallest groups are small.",
    references=("https://doi.org/10.24432/C5XW20",
                "Kohavi, R. (1996). Scaling up the accuracy of naive-Bayes classifiers: "
                "a decision-tree hybrid. KDD-96."),
)

_GERMAN_CARD = CardMeta(
    owner="raigov maintainers (demo model)",
    description="A tabular PyTorch MLP that scores the probability that a loan "
                "applicant is a good credit risk, from the account, loan, savings, "
                "employment, property and housing attributes of the Statlog German "
                "credit data. Sex and foreign-worker status are captured with each "
                "request but are not model inputs.",
    intended_use="Demonstrating and testing raigov on a small credit-scoring model.",
    out_of_scope_uses="Real credit decisions about real applicants.",
    primary_users="Engineers, model owners and auditors evaluating raigov.",
    factors="Sex (derived from the personal status code), foreign-worker status, age.",
    training_data="Statlog (German Credit Data), Hans Hofmann, 1994; UCI Machine "
                  "Learning Repository, dataset 144, https://doi.org/10.24432/C5NC77, "
                  "CC BY 4.0. A seeded, stratified 70% of the 1,000 applicants (700); "
                  "15% of those are held back for early stopping.",
    evaluation_data="The other 300 applicants of the same seeded, stratified split.",
    ethical_considerations="foreign_worker is deliberately not a feature "
                           "(nationality must not drive credit decisions); sex is not "
                           "a feature and neither is status_sex, which encodes it. age "
                           "is a feature and is protected in some jurisdictions.",
    limitations="1,000 applicants in all, so the 300 evaluation rows give wide "
                "confidence intervals. The data's documented costs (a bad risk "
                "accepted costs 5, a good risk refused costs 1) are not reflected in "
                "the 0.5 threshold; a lender would pick the threshold from its costs. "
                "Only 37 applicants are not foreign workers, too few for group metrics.",
    references=("https://doi.org/10.24432/C5NC77",),
)

DEMO_MODELS: dict[str, DemoDefinition] = {
    "income-classifier": DemoDefinition(
        name="income-classifier", label=ADULT_LABEL,
        features=("age", "workclass", "education", "education_num", "marital_status",
                  "occupation", "relationship", "capital_gain", "capital_loss",
                  "hours_per_week", "native_country"),
        sensitive=("sex", "race"), classes=("<=50K", ">50K"), positive_class=">50K",
        card=_ADULT_CARD, split=_adult_split, intersections=(("sex", "race"),),
        tags=("demo", "binary-classifier", "tabular", "census", "income")),
    "credit-risk": DemoDefinition(
        name="credit-risk", label=GERMAN_LABEL,
        features=("status", "duration", "credit_history", "purpose", "credit_amount",
                  "savings", "present_employment", "installment_rate", "other_debtors",
                  "present_residence_since", "property", "age", "installment_plans",
                  "housing", "number_of_existing_credits", "job",
                  "number_of_people_liable_for", "telephone"),
        sensitive=("sex", "foreign_worker"), classes=("bad", "good"),
        positive_class="good", card=_GERMAN_CARD, split=_german_split,
        tags=("demo", "binary-classifier", "tabular", "credit"),
        # 700 rows: smaller batches give early stopping enough steps to judge by, and
        # more dropout keeps 120 encoded columns from being memorised.
        training={"batch_size": 64, "dropout": 0.4}),
}


def demo_spec(definition: DemoDefinition, full: pd.DataFrame) -> ModelSpec:
    """The model spec, with the input schema inferred from every row of the data set
    (so held-out categories are allowed), nullable where the data has nulls."""
    columns = list(definition.features) + list(definition.sensitive)
    schema = InputSchema.infer(full[columns], margin=SCHEMA_MARGIN)
    widened = []
    for col in schema.columns:  # a count or an age never goes below zero
        if col.min is not None and col.min < 0 <= full[col.name].min():
            col = col.model_copy(update={"min": 0})
        widened.append(col)
    return ModelSpec(
        name=definition.name, inputs=InputSchema(columns=tuple(widened)),
        features=definition.features, sensitive=definition.sensitive,
        label_name=definition.label, classes=definition.classes,
        positive_class=definition.positive_class, tags=definition.tags,
        card=definition.card,
        monitoring=MonitoringConfig(intersections=definition.intersections))


def build_demo_model(name: str, *, seed: int = 0) -> DemoModel:
    """Train the demo model ``name`` (seconds on a CPU) and gather its data."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    from raigov.models.tabular import TrainConfig, train_tabular

    definition = DEMO_MODELS.get(name)
    if definition is None:
        raise NotFoundError(MSG_UNKNOWN_DEMO.format(
            name=name, known=sorted(DEMO_MODELS), hint=did_you_mean(name, DEMO_MODELS)))
    train, test, full = definition.split(seed)
    spec = demo_spec(definition, full)
    trained = train_tabular(train, spec=spec, label=definition.label, seed=seed,
                            config=TrainConfig(**definition.training))
    inputs = spec.input_columns

    sample = train.sample(n=min(REFERENCE_ROWS, len(train)), random_state=seed)
    reference = sample[inputs].reset_index(drop=True)
    reference["y_true"] = sample[definition.label].to_numpy(dtype=np.int64)
    reference["score"] = trained.predict_proba(reference)
    reference["label"] = (reference["score"] >= spec.threshold).astype(np.int64)

    heldout = test[inputs].reset_index(drop=True)
    heldout["y_true"] = test[definition.label].to_numpy(dtype=np.int64)
    scores = trained.predict_proba(heldout)
    metrics = {"accuracy": float(accuracy_score(heldout["y_true"], scores >= spec.threshold)),
               "roc_auc": float(roc_auc_score(heldout["y_true"], scores))}
    return DemoModel(spec, trained, reference, heldout, metrics)
