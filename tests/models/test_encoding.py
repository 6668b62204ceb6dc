"""The preprocessor: standardised numerics, one-hot categoricals with an "other"
column, piecewise-linear bins, feature slices and its JSON state."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from raigov.models.datasets import load_adult
from raigov.models.encoding import OTHER, Preprocessor
from raigov.models.spec import ColumnSpec, InputSchema
from raigov.errors import ConfigError, InputError

ADULT_FEATURES = ["age", "workclass", "education", "education_num", "marital_status",
                  "occupation", "relationship", "capital_gain", "capital_loss",
                  "hours_per_week", "native_country"]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult("all")


@pytest.fixture(scope="module")
def adult_schema(adult: pd.DataFrame) -> InputSchema:
    return InputSchema.infer(adult[ADULT_FEATURES])


@pytest.fixture(scope="module")
def fitted(adult: pd.DataFrame, adult_schema: InputSchema) -> Preprocessor:
    train = adult[adult["split"] == "train"]
    return Preprocessor.fit(train, adult_schema, ADULT_FEATURES, target=train["income"],
                            numeric_bins=8)


def _small_schema() -> InputSchema:
    return InputSchema(columns=(
        ColumnSpec(name="income_k", dtype="float", nullable=True),
        ColumnSpec(name="years", dtype="int"),
        ColumnSpec(name="colour", dtype="str", nullable=True, allowed=("1", "blue", "red")),
        ColumnSpec(name="member", dtype="bool"),
    ))


def _small_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 10, n)
    income[::10] = np.nan
    return pd.DataFrame({"income_k": income, "years": rng.integers(0, 40, n),
                         "colour": rng.choice(["red", "blue", "1"], n),
                         "member": rng.random(n) < 0.3})


def _block(pre: Preprocessor, df: pd.DataFrame, feature: str) -> np.ndarray:
    return pre.transform(df)[:, pre.feature_slices[feature]]


def test_unknown_category_maps_to_the_other_column(fitted: Preprocessor,
                                                   adult: pd.DataFrame) -> None:
    rows = adult.head(2).copy()
    rows["workclass"] = ["Astronaut", "Private"]
    block = _block(fitted, rows, "workclass")
    names = [fitted.encoded_names[i] for i in fitted.feature_slices["workclass"]]
    assert names[-1] == f"workclass={OTHER}"
    assert block[0].tolist() == [0.0] * (len(names) - 1) + [1.0]
    assert block[1, names.index("workclass=Private")] == 1.0 and block[1].sum() == 1.0


def test_missing_category_maps_to_the_other_column(fitted: Preprocessor,
                                                   adult: pd.DataFrame) -> None:
    rows = adult.head(3).copy()
    rows["occupation"] = pd.array([None, pd.NA, "Sales"], dtype="string")
    block = _block(fitted, rows, "occupation")
    assert block[:2, -1].tolist() == [1.0, 1.0]
    assert block[:2, :-1].sum() == 0.0 and block[2, -1] == 0.0


def test_every_row_has_exactly_one_hot_column_per_categorical(fitted: Preprocessor,
                                                              adult: pd.DataFrame) -> None:
    x = fitted.transform(adult.sample(2000, random_state=0))
    for name in ("workclass", "education", "occupation", "native_country"):
        assert (x[:, fitted.feature_slices[name]].sum(axis=1) == 1.0).all()


def test_feature_slices_cover_every_encoded_column_exactly_once(fitted: Preprocessor) -> None:
    covered = sorted(i for idx in fitted.feature_slices.values() for i in idx)
    assert covered == list(range(len(fitted.encoded_names)))
    assert list(fitted.feature_slices) == ADULT_FEATURES
    for name, idx in fitted.feature_slices.items():
        assert all(fitted.encoded_names[i].startswith(name) for i in idx)


def test_numeric_features_are_standardised_with_training_statistics(
        fitted: Preprocessor, adult: pd.DataFrame) -> None:
    x = fitted.transform(adult[adult["split"] == "train"])
    for name in ("age", "hours_per_week", "capital_gain"):
        column = x[:, fitted.feature_slices[name][0]]
        assert abs(column.mean()) < 1e-3 and abs(column.std() - 1) < 1e-3


def test_missing_numeric_becomes_zero_and_sets_its_indicator() -> None:
    df = _small_frame()
    pre = Preprocessor.fit(df, _small_schema(), list(df.columns))
    rows = df.head(2).copy()
    rows["income_k"] = [np.nan, 50.0]
    block = _block(pre, rows, "income_k")
    assert block[0].tolist() == [0.0, 1.0]
    assert block[1, 1] == 0.0
    assert pre.encoded_names[pre.feature_slices["income_k"][1]] == "income_k__missing"


def test_only_nullable_numeric_columns_get_a_missing_indicator() -> None:
    df = _small_frame()
    pre = Preprocessor.fit(df, _small_schema(), list(df.columns))
    assert len(pre.feature_slices["income_k"]) == 2
    assert len(pre.feature_slices["years"]) == 1


def test_bool_and_numeric_looking_categories_are_one_hot() -> None:
    df = _small_frame()
    pre = Preprocessor.fit(df, _small_schema(), list(df.columns))
    rows = pd.DataFrame({"income_k": [1.0, 2.0], "years": [1, 2], "colour": [1, "red"],
                         "member": [True, False]})
    assert _block(pre, rows, "colour").tolist() == [[1, 0, 0, 0], [0, 0, 1, 0]]
    assert _block(pre, rows, "member").tolist() == [[0, 1, 0], [1, 0, 0]]


def test_bin_columns_rise_from_zero_to_one_across_their_bins(fitted: Preprocessor,
                                                            adult: pd.DataFrame) -> None:
    idx = fitted.feature_slices["age"]
    assert len(idx) > 2
    ages = pd.DataFrame({**{c: adult[c].head(3) for c in ADULT_FEATURES},
                         "age": [17, 45, 90]})
    bins = fitted.transform(ages)[:, idx[1:]]
    assert bins[0].max() == 0.0 and bins[2].min() == 1.0
    assert ((bins >= 0) & (bins <= 1)).all()
    assert (np.diff(bins, axis=0) >= 0).all()


def test_json_round_trip_gives_an_identical_encoding(fitted: Preprocessor,
                                                     adult: pd.DataFrame) -> None:
    state = json.loads(json.dumps(fitted.to_dict()))
    again = Preprocessor.from_dict(state)
    rows = adult.sample(500, random_state=1)
    assert again.encoded_names == fitted.encoded_names
    assert again.feature_slices == fitted.feature_slices
    np.testing.assert_array_equal(again.transform(rows), fitted.transform(rows))


def test_transform_returns_float32_and_ignores_extra_columns(fitted: Preprocessor,
                                                             adult: pd.DataFrame) -> None:
    x = fitted.transform(adult.head(10))  # carries sex, race, income, split too
    assert x.dtype == np.float32 and x.shape == (10, len(fitted.encoded_names))


def test_transform_of_10k_rows_takes_milliseconds(fitted: Preprocessor,
                                                  adult: pd.DataFrame) -> None:
    rows = adult.sample(10_000, random_state=0)
    fitted.transform(rows)
    best = min(_seconds(lambda: fitted.transform(rows)) for _ in range(3))
    assert best < 0.25, f"10k rows took {best * 1000:.0f} ms"


def test_missing_feature_column_raises_input_error_naming_it(fitted: Preprocessor,
                                                             adult: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"missing feature column.*'occupation'"):
        fitted.transform(adult.head(3).drop(columns=["occupation"]))


def test_feature_outside_the_schema_raises_config_error_with_close_match(
        adult: pd.DataFrame, adult_schema: InputSchema) -> None:
    df = adult.rename(columns={"occupation": "ocupation"})
    with pytest.raises(ConfigError, match="Did you mean 'occupation'"):
        Preprocessor.fit(df, adult_schema, ["age", "ocupation"])


def _seconds(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
