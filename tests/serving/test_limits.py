"""Request bounds and numbers out of range, without a server: the caps' defaults and
messages, numbers no int64 or float64 holds, and validation and quarantine that grow
linearly with the rows."""

from __future__ import annotations

import time

import orjson
import pandas as pd
import pytest

from raigov.errors import ConfigError
from raigov.models.serving.http_bodies import parse_json, quarantine_rows
from raigov.models.serving.limits import (DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ROWS, TOO_MANY_ROWS,
                                          Limits, status_for, too_many_rows)
from raigov.models.spec import ColumnSpec, InputSchema, ModelSpec
from raigov.models.validation import OutOfRange, RowError, validate_rows


def _unbounded_spec() -> ModelSpec:
    """Numbers without min or max: only the type's range stands between a client and
    the lake's int64 and float64 columns."""
    columns = [ColumnSpec(name="count", dtype="int"), ColumnSpec(name="amount", dtype="float"),
               ColumnSpec(name="sex", dtype="str", allowed=["female", "male"])]
    return ModelSpec(name="unbounded", inputs=InputSchema(columns=columns),
                     features=("count", "amount"), sensitive=("sex",))


def test_the_caps_default_to_four_mebibytes_and_ten_thousand_rows() -> None:
    assert (Limits().max_body_bytes, Limits().max_rows) == (4 * 1024 * 1024, 10_000)
    assert (DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ROWS) == (4194304, 10000)
    with pytest.raises(ConfigError, match="--max-rows must be at least 1; got 0"):
        Limits(max_rows=0)


def test_the_row_cap_names_the_count_and_the_cap_and_is_answered_413() -> None:
    limits = Limits(max_rows=3)
    assert too_many_rows([{}] * 3, limits, what="rows", field="rows") is None
    refused = too_many_rows([{}] * 4, limits, what="labels", field="labels")
    assert refused.message == TOO_MANY_ROWS.format(count=4, what="labels", cap=3)
    assert refused.message.startswith("the request has 4 labels; at most 3 are accepted")
    assert status_for([refused]) == 413 and status_for([RowError(0, "a", "type", "x")]) == 422


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "9" * 400])
def test_a_number_no_float64_holds_is_kept_for_validation_to_name(literal: str) -> None:
    payload, problem = parse_json(b'{"rows": [{"count": 1, "amount": %s}]}' % literal.encode())
    assert problem is None
    [row] = payload["rows"]
    assert isinstance(row["amount"], OutOfRange) and str(row["amount"]) == literal
    _, errors = validate_rows(_unbounded_spec(), [{**row, "sex": "male"}])
    assert [(e.row, e.field, e.check) for e in errors] == [(0, "amount", "range")]
    assert errors[0].message.startswith("field 'amount' must be a finite number within float64")


def test_what_orjson_refuses_for_other_reasons_stays_malformed() -> None:
    for body in (b'{"rows": [1e400, NaN]}', b'{"rows": [1e400, "\\ud800"]}', b'{"rows": [1e400'):
        payload, problem = parse_json(body)
        assert payload is None and problem.check == "json", body


@pytest.mark.parametrize("value", [2 ** 63, 2 ** 64 - 1, 2 ** 70, -(2 ** 63) - 2 ** 20, 1e300])
def test_an_int_column_refuses_numbers_beyond_int64_by_row_and_field(value) -> None:
    [row] = orjson.loads(b'[{"count": %s, "amount": 1.5, "sex": "female"}]' % str(value).encode())
    rows = [{"count": 7, "amount": 2.0, "sex": "male"}, row]
    frame, errors = validate_rows(_unbounded_spec(), rows)
    assert [(e.row, e.field, e.check) for e in errors] == [(1, "count", "range")]
    assert "an integer in int64's range [-2**63, 2**63)" in errors[0].message
    assert frame["count"].tolist()[0] == 7


def test_int64_boundaries_inside_the_range_are_accepted() -> None:
    rows = [{"count": -(2 ** 63), "amount": 1.7e308, "sex": "male"},
            {"count": 2 ** 62, "amount": -1.7e308, "sex": "female"}]
    _, errors = validate_rows(_unbounded_spec(), rows)
    assert errors == []


def test_an_infinite_float_from_a_python_caller_is_refused() -> None:
    _, errors = validate_rows(_unbounded_spec(), [{"count": 1, "amount": float("inf"), "sex": "male"}])
    assert [(e.row, e.field, e.check) for e in errors] == [(0, "amount", "range")]


def _seconds(work, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def test_validation_and_quarantine_of_bad_rows_grow_linearly_with_the_rows() -> None:
    """Every row bad (the costliest request): 8x the rows must cost well under 64x (a
    per-row scan of the errors, as quarantine once did, costs 64x)."""
    spec = _unbounded_spec()

    def work(n: int) -> None:
        rows = [{"count": "many", "amount": i, "sex": "other"} for i in range(n)]
        _, errors = validate_rows(spec, rows)
        assert len(errors) == 2 * n
        quarantine_rows(errors, rows, b"")

    work(200)                                     # warm up (pandera's import)
    small, large = _seconds(lambda: work(1_000)), _seconds(lambda: work(8_000))
    assert large / small < 24, (small, large)


def test_quarantine_rows_keep_each_rows_own_reasons_and_the_requests() -> None:
    errors = [RowError(None, "timestamp", "type", "bad time"), RowError(1, "count", "type", "bad count")]
    rows = quarantine_rows(errors, [{"a": 1}, {"a": 2}], b"")
    assert [r["reason"] for r in rows] == ["bad time", "bad count; bad time"]
    assert [[x["field"] for x in r["reasons"]] for r in rows] == [["timestamp"], ["count", "timestamp"]]
    assert pd.Series([r["row_index"] for r in rows]).tolist() == [0, 1]


def test_failed_values_are_explained_in_a_worker_thread_whatever_the_size() -> None:
    """pandera's report costs a tenth of a second or more even for one row: never on
    the event loop. Good small bodies are checked inline; large ones in a thread."""
    import asyncio
    import threading

    from raigov.models.serving.limits import run_check
    from raigov.models.validation import ExplainOffLoop

    spec = _unbounded_spec()
    bad = [{"count": 1, "amount": 2.0, "sex": "other"}]        # fails its value check
    with pytest.raises(ExplainOffLoop):
        validate_rows(spec, bad, explain=False)
    ran_on: list[tuple[str, bool]] = []

    def check(rows, *, explain: bool):
        ran_on.append((threading.current_thread().name, explain))
        return validate_rows(spec, rows, explain=explain)

    async def main() -> list:
        limits = Limits(off_loop_bytes=1000)
        _, errors = await run_check(limits, 100, check, bad)
        await run_check(limits, 100, check, [{"count": 1, "amount": 2.0, "sex": "male"}])
        await run_check(limits, 5000, check, [{"count": 1, "amount": 2.0, "sex": "male"}])
        return errors

    errors = asyncio.run(main())
    assert [(e.row, e.field) for e in errors] == [(0, "sex")]
    loop = threading.main_thread().name
    assert [(name == loop, explain) for name, explain in ran_on] == [
        (True, False), (False, True), (True, False), (False, True)]
