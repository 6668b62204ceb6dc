"""Benchmark: where the work of a request (parse, validate, build the capture or
quarantine table) should run: inline on the event loop, or in a worker thread. Prints
JSON.

Run: .venv/bin/python tests/benchmarks/bench_request_work.py [--repeats 5]

For bodies of the credit-risk model's held-out rows, good (the predict path up to the
model, then the prediction table) and all bad (validation, pandera's report and the
quarantine table), at several sizes:

- ``work_ms``: the work inline (best of ``--repeats``);
- ``handoff_ms``: what running it through ``asyncio.to_thread`` adds (median of the
  repeats of the difference, on an idle loop);
- ``stall_inline_ms`` / ``stall_thread_ms``: the longest the event loop went without
  running a 1 ms ticker while the work ran inline / in a thread (what every other
  request waits, at worst, behind this one).

The threshold ``limits.DEFAULT_OFF_LOOP_BYTES`` is the size of a good body from which
the hand-over costs under a tenth of the work it moves off the loop. A bad body's report
(pandera) is always made off the loop (``limits.run_check``): it costs a tenth of a
second or more at any size, as the ``bad`` rows show.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import numpy as np
import orjson

SIZES = (1, 10, 50, 100, 200, 500, 1000, 5000)


def _setup():
    from raigov.models.demo_models import build_demo_model

    demo = build_demo_model("credit-risk", seed=0)
    frame = demo.heldout[list(demo.spec.input_columns)]
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return demo.spec, rows


def _work(spec, body: bytes, bad: bool):
    from raigov.models.capture.records import prediction_table
    from raigov.models.output_kinds import output_kind
    from raigov.models.serving.limits import Limits
    from raigov.models.serving.request_work import check_predict, quarantine_of

    rows, frame, ts, errors = check_predict(spec, body, Limits())
    if bad:
        return quarantine_of(errors, rows, body, 1)
    raw = np.zeros(len(frame))
    return prediction_table(spec, 1, frame, output_kind(spec).outputs(raw, spec), ts=ts)


async def _stall(run) -> float:
    """The longest gap between ticks of a 1 ms ticker while ``run()`` is awaited."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.005)
    gaps.clear()
    await run()
    done.set()
    await task
    return max(gaps, default=0.0) * 1000


async def _measure(spec, body: bytes, bad: bool, repeats: int) -> dict:
    inline, handed = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        _work(spec, body, bad)
        inline.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.to_thread(_work, spec, body, bad)
        handed.append(time.perf_counter() - started)

    async def inline_run() -> None:
        _work(spec, body, bad)

    async def thread_run() -> None:
        await asyncio.to_thread(_work, spec, body, bad)

    return {"work_ms": round(min(inline) * 1000, 3),
            "handoff_ms": round(statistics.median(h - i for h, i in zip(handed, inline)) * 1000, 3),
            "stall_inline_ms": round(await _stall(inline_run), 2),
            "stall_thread_ms": round(await _stall(thread_run), 2)}


async def main(repeats: int) -> dict:
    spec, rows = _setup()
    _work(spec, orjson.dumps({"rows": [dict(rows[0], age="x")]}), True)   # warm up pandera
    out = []
    for n in SIZES:
        good = (rows * (n // len(rows) + 1))[:n]
        bad = [dict(r, age="old") for r in good]
        for label, body_rows, is_bad in (("good", good, False), ("bad", bad, True)):
            body = orjson.dumps({"rows": body_rows})
            figures = await _measure(spec, body, is_bad, repeats)
            out.append({"rows": n, "rows_are": label, "body_bytes": len(body), **figures})
    pays = [r["body_bytes"] for r in out
            if r["rows_are"] == "good" and r["handoff_ms"] < 0.1 * r["work_ms"]]
    return {"results": out, "good_body_from_which_handoff_is_under_10pct": min(pays, default=None)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    print(json.dumps(asyncio.run(main(parser.parse_args().repeats)), indent=1))
