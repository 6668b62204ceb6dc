"""Micro-batching: every request gets exactly its own rows' outputs, in order, whatever
the mix of sizes; a lone request does not wait; requests queued while the model is
busy share the next forward pass; the model sees exactly the declared columns."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pandas as pd

from raigov.models.serving.batching import MicroBatcher, batch_frame
from raigov.models.serving.frames import frame_from_arrays


def _frame(start: int, n: int) -> pd.DataFrame:
    ids = np.arange(start, start + n, dtype=np.float64)
    text = np.array([f"row-{int(i)}" for i in ids], dtype=object)
    return pd.DataFrame({"sensitive": text, "x": ids, "y": ids * 10})


def test_concurrent_requests_of_mixed_sizes_each_get_their_own_rows_in_order() -> None:
    seen: list[list[str]] = []

    def model(frame: pd.DataFrame) -> np.ndarray:
        seen.append(list(frame.columns))
        time.sleep(0.002)                      # a forward pass takes a while
        return frame["y"].to_numpy() + frame["x"].to_numpy()   # 11 * row id

    sizes = [1, 7, 64, 3, 256, 16, 1, 40] * 4
    starts = np.cumsum([0] + sizes[:-1])

    async def main() -> list[np.ndarray]:
        batcher = MicroBatcher(model, name="m", max_batch_rows=128, columns=["y", "x"])
        try:
            return await asyncio.gather(*(batcher.predict(_frame(int(s), n))
                                          for s, n in zip(starts, sizes)))
        finally:
            batcher.close()

    results = asyncio.run(main())
    for s, n, got in zip(starts, sizes, results):
        assert np.array_equal(got, 11 * np.arange(s, s + n, dtype=np.float64))
    assert len(seen) < len(sizes), "requests must share forward passes"
    assert {tuple(c) for c in seen} == {("y", "x")}


def test_a_lone_request_is_answered_without_waiting_for_company() -> None:
    async def main() -> float:
        batcher = MicroBatcher(lambda f: f["x"].to_numpy(), name="m", max_wait_ms=0)
        try:
            await batcher.predict(_frame(0, 4))          # warm the worker thread
            started = time.perf_counter()
            await batcher.predict(_frame(0, 4))
            return time.perf_counter() - started
        finally:
            batcher.close()

    waits = asyncio.run(main())
    held = MicroBatcher(lambda f: f["x"].to_numpy(), name="m", max_wait_ms=200)

    async def held_main() -> float:
        try:
            started = time.perf_counter()
            await held.predict(_frame(0, 4))
            return time.perf_counter() - started
        finally:
            held.close()

    assert waits < 0.15 <= asyncio.run(held_main())


def test_requests_queued_while_the_model_is_busy_form_one_batch() -> None:
    release = threading.Event()
    batches: list[int] = []

    def model(frame: pd.DataFrame) -> np.ndarray:
        batches.append(len(frame))
        release.wait(5) if len(batches) == 1 else None
        return frame["x"].to_numpy()

    async def main() -> None:
        batcher = MicroBatcher(model, name="m")
        try:
            first = asyncio.ensure_future(batcher.predict(_frame(0, 2)))
            await asyncio.sleep(0.05)                    # the first pass is running
            rest = [asyncio.ensure_future(batcher.predict(_frame(10 * i, 3))) for i in range(5)]
            await asyncio.sleep(0.05)
            release.set()
            await asyncio.gather(first, *rest)
        finally:
            batcher.close()

    asyncio.run(main())
    assert batches == [2, 15]


def test_the_batch_frame_equals_pandas_own_concatenation_of_the_columns() -> None:
    frames = [_frame(0, 5), _frame(5, 1), _frame(6, 9)]
    expected = pd.concat(frames, ignore_index=True)[["x", "sensitive"]]
    got = batch_frame(frames, ["x", "sensitive"])
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(batch_frame(frames[:1], ["y"]), frames[0][["y"]])


def test_a_frame_from_column_arrays_equals_the_pandas_constructor() -> None:
    text = np.array(["a", None, "c"], dtype=object)
    arrays = {"n": np.array([1.0, np.nan, 3.0]), "s": text, "m": np.array([4.0, 5.0, 6.0]),
              "b": np.array([True, False, True]), "i": np.array([7, 8, 9])}
    got = frame_from_arrays(arrays)
    pd.testing.assert_frame_equal(got, pd.DataFrame(arrays))
    assert list(got.columns) == ["n", "s", "m", "b", "i"]
