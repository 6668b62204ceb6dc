"""Dynamic micro-batching: concurrent requests for one model share a forward pass.

A batch takes every request already queued (up to ``max_batch_rows`` rows) the moment
the model is free, so a lone request never waits for company, and requests that arrive
while a forward pass runs form the next batch (as a group commit does). ``max_wait_ms``
> 0 additionally holds a batch open that long for more rows when fewer than
``max_batch_rows`` are queued (useful when a forward pass costs the same for 1 row as
for 500, as on a GPU). The forward pass runs in the model's own worker thread (one per
model, so a GPU or the CPU's threads are never shared between two forward passes)
while the event loop keeps accepting requests. With ``columns`` the model sees exactly
those columns, in that order: the batch frame is built from them alone, once per batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raigov.models.serving.frames import frame_from_arrays


@dataclass
class _Pending:
    frame: pd.DataFrame
    future: asyncio.Future


class MicroBatcher:
    def __init__(self, predict: Callable[[pd.DataFrame], np.ndarray], *, name: str,
                 max_batch_rows: int = 512, max_wait_ms: float = 0.0,
                 on_batch: Callable[[int, float], None] | None = None,
                 thread_init: Callable[[], None] | None = None,
                 columns: Sequence[str] | None = None) -> None:
        if max_batch_rows < 1 or max_wait_ms < 0:
            raise ValueError("max_batch_rows must be >= 1 and max_wait_ms >= 0")
        self._predict = predict
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_ms / 1000
        self.columns = None if columns is None else list(columns)
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name[:20]}",
                                            initializer=thread_init)

    async def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores for ``frame``'s rows, computed in a shared batch."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(frame, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0].frame)
            rows = self._take_queued(batch, rows)
            if self.max_wait_s > 0 and rows < self.max_batch_rows:
                rows = await self._wait_for_more(batch, rows)
            await self._forward(batch, rows)

    def _take_queued(self, batch: list[_Pending], rows: int) -> int:
        """Add the requests already waiting, while the batch has room."""
        assert self._queue is not None
        while rows < self.max_batch_rows and not self._queue.empty():
            item = self._queue.get_nowait()
            batch.append(item)
            rows += len(item.frame)
        return rows

    async def _wait_for_more(self, batch: list[_Pending], rows: int) -> int:
        assert self._queue is not None
        deadline = time.monotonic() + self.max_wait_s
        while rows < self.max_batch_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(self._queue.get(), remaining)
            except asyncio.TimeoutError:
                break
            batch.append(item)
            rows = self._take_queued(batch, rows + len(item.frame))
        return rows

    async def _forward(self, batch: list[_Pending], rows: int) -> None:
        frames = [p.frame for p in batch]
        started = time.perf_counter()
        try:
            scores = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._run_model, frames)
        except Exception as exc:  # the model failed: every request of the batch learns it
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        if self._on_batch:
            self._on_batch(rows, time.perf_counter() - started)
        offset = 0
        for p in batch:
            n = len(p.frame)
            if not p.future.done():
                p.future.set_result(scores[offset:offset + n])
            offset += n

    def _run_model(self, frames: list[pd.DataFrame]) -> np.ndarray:
        """The model's input (one frame of the batch's rows, in order) and its output;
        runs on the model's thread."""
        return self._predict(batch_frame(frames, self.columns))

    def predict_blocking(self, frame: pd.DataFrame) -> np.ndarray:
        """A forward pass outside batching, on the model's thread (health checks)."""
        return self._executor.submit(self._run_model, [frame]).result(timeout=10)

    def close(self) -> None:
        if self._worker:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def batch_frame(frames: list[pd.DataFrame], columns: list[str] | None) -> pd.DataFrame:
    """The rows of ``frames`` in order, as one frame of ``columns`` (all columns when
    None). Built column by column from numpy arrays: cheaper than ``pd.concat`` and a
    column selection per request (measured: ~4x for 8 frames of 64 rows)."""
    if columns is None:
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(frames) == 1:
        arrays = {c: frames[0][c].to_numpy() for c in columns}
    else:
        arrays = {c: np.concatenate([f[c].to_numpy() for f in frames]) for c in columns}
    return frame_from_arrays(arrays)
