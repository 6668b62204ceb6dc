"""Dynamic micro-batching: concurrent requests for one model share a forward pass.

The first waiting request opens a batch; the batch closes when it holds
``max_batch_rows`` rows or ``max_wait_ms`` has passed, then runs in the model's own
worker thread (one per model, so a GPU or the CPU's threads are never shared between
two forward passes) while the event loop keeps accepting requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class _Pending:
    frame: pd.DataFrame
    future: asyncio.Future


class MicroBatcher:
    def __init__(self, predict: Callable[[pd.DataFrame], np.ndarray], *, name: str,
                 max_batch_rows: int = 512, max_wait_ms: float = 2.0,
                 on_batch: Callable[[int, float], None] | None = None,
                 thread_init: Callable[[], None] | None = None) -> None:
        if max_batch_rows < 1 or max_wait_ms < 0:
            raise ValueError("max_batch_rows must be >= 1 and max_wait_ms >= 0")
        self._predict = predict
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_ms / 1000
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
        await self._queue.put(_Pending(frame, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0].frame)
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
                rows += len(item.frame)
            await self._forward(batch, rows)

    async def _forward(self, batch: list[_Pending], rows: int) -> None:
        frame = batch[0].frame if len(batch) == 1 else pd.concat(
            [p.frame for p in batch], ignore_index=True)
        started = time.perf_counter()
        try:
            scores = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._predict, frame)
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

    def predict_blocking(self, frame: pd.DataFrame) -> np.ndarray:
        """A forward pass outside batching, on the model's thread (health checks)."""
        return self._executor.submit(self._predict, frame).result(timeout=10)

    def close(self) -> None:
        if self._worker:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
