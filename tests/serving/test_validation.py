"""Request validation: every error names its row and field, and the fast accept
decision agrees with pandera, the schema's definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raigov.models.datasets import load_adult
from raigov.models.spec import InputSchema, ModelSpec
from raigov.models.validation import pandera_errors, validate_rows, value_failures


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult("test").drop(columns=["income", "split"])


@pytest.fixture(scope="module")
def spec(adult: pd.DataFrame) -> ModelSpec:
    features = tuple(c for c in adult.columns if c not in ("sex", "race"))
    return ModelSpec(name="adult", inputs=InputSchema.infer(adult), features=features,
                     sensitive=("sex", "race"))


def _rows(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_valid_adult_rows_pass_with_no_errors(adult, spec) -> None:
    frame, errors = validate_rows(spec, _rows(adult.head(500)))
    assert errors == [] and len(frame) == 500


def test_three_different_errors_in_one_batch_are_all_reported(adult, spec) -> None:
    rows = _rows(adult.head(4))
    rows[0]["age"] = "forty"            # wrong type
    del rows[1]["sex"]                  # missing field
    rows[3]["hours_per_week"] = 500     # out of range
    _, errors = validate_rows(spec, rows)
    found = {(e.row, e.field, e.check.split("(")[0]) for e in errors}
    assert found == {(0, "age", "type"), (1, "sex", "missing"),
                     (3, "hours_per_week", "less_than_or_equal_to")}


def test_a_string_is_never_coerced_into_a_number(spec, adult) -> None:
    rows = _rows(adult.head(1))
    rows[0]["age"] = "39"
    _, errors = validate_rows(spec, rows)
    assert [(e.field, e.check) for e in errors] == [("age", "type")]
    assert "must be int, got str" in errors[0].message


def test_an_unknown_category_and_a_null_in_a_required_column_are_named(adult, spec) -> None:
    rows = _rows(adult.head(2))
    rows[0]["race"] = "Martian"
    rows[1]["education"] = None
    _, errors = validate_rows(spec, rows)
    assert {(e.row, e.field) for e in errors} == {(0, "race"), (1, "education")}
    assert any(e.check.startswith("isin") and e.value == "Martian" for e in errors)


def test_the_fast_value_check_accepts_exactly_what_pandera_accepts(adult, spec) -> None:
    rng = np.random.default_rng(7)
    frame, _ = validate_rows(spec, _rows(adult.sample(400, random_state=1)))
    corrupt = frame.copy()
    idx = rng.choice(len(corrupt), 60, replace=False)
    corrupt.loc[idx[:20], "age"] = rng.integers(100, 200, 20)
    corrupt.loc[idx[20:40], "race"] = "Unknown"
    corrupt.loc[idx[40:], "education"] = None
    fast = set(np.flatnonzero(value_failures(spec, corrupt)))
    by_pandera = {e.row for e in pandera_errors(spec, corrupt)}
    assert fast == by_pandera == set(idx.tolist())


def test_the_validated_frame_holds_the_request_values_typed_and_in_column_order(adult, spec) -> None:
    rows = _rows(adult.sample(300, random_state=3))
    frame, errors = validate_rows(spec, rows)
    expected = pd.DataFrame(rows)[spec.input_columns]
    assert errors == [] and list(frame.columns) == spec.input_columns
    for name in spec.input_columns:
        col = spec.inputs.column(name)
        if col.dtype in ("int", "float"):
            want = expected[name].astype("float64").to_numpy()
            assert frame[name].dtype == np.float64
            assert np.array_equal(frame[name].to_numpy(), want, equal_nan=True)
        else:
            assert frame[name].tolist() == expected[name].tolist()


def test_a_row_missing_a_field_is_named_even_when_the_others_are_complete(adult, spec) -> None:
    rows = _rows(adult.head(6))
    del rows[4]["occupation"]
    frame, errors = validate_rows(spec, rows)
    assert [(e.row, e.field, e.check) for e in errors] == [(4, "occupation", "missing")]
    assert frame["occupation"].tolist()[:4] == [r["occupation"] for r in rows[:4]]


def test_nulls_pass_in_nullable_columns_and_unknown_categories_fail_as_pandera_says(adult, spec) -> None:
    nullable = next(c.name for c in spec.inputs.columns if c.nullable and c.allowed)
    required = next(c.name for c in spec.inputs.columns if not c.nullable and c.allowed)
    rows = _rows(adult.head(5))
    rows[0][nullable] = None
    rows[2][required] = "Martian"
    frame, errors = validate_rows(spec, rows)
    assert {(e.row, e.field) for e in errors} == {(2, required)}
    assert {e.row for e in pandera_errors(spec, frame)} == {2}


def test_an_input_column_that_is_neither_feature_nor_sensitive_is_not_asked_of_a_request(adult) -> None:
    """The spec may describe a column (an id, a slicing column) that requests do not
    carry: a bad value elsewhere is reported alone, not with a 'column missing'."""
    features = tuple(c for c in adult.columns if c not in ("sex", "race", "native_country"))
    spec = ModelSpec(name="adult", inputs=InputSchema.infer(adult), features=features,
                     sensitive=("sex", "race"))
    rows = [{k: v for k, v in row.items() if k != "native_country"}
            for row in _rows(adult.head(3))]
    rows[2]["hours_per_week"] = 500
    frame, errors = validate_rows(spec, rows)
    assert "native_country" not in frame.columns
    assert [(e.row, e.field) for e in errors] == [(2, "hours_per_week")]
