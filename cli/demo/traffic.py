"""Simulated traffic: held-out rows replayed as requests spread over days, the
scenario's incidents applied to them, and their ground-truth labels arriving later.

Everything is drawn from generators seeded by (scenario seed, model, day, stream), so
a seed gives the same requests, rows and labels whatever else changes: another model,
another day or another incident does not shift a model's draws.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from raigov.cli.demo.incidents import Incident
    from raigov.cli.demo.scenario import Labels, Traffic

STREAMS = {"volume": 1, "rows": 2, "labels": 3, "faults": 4, "feedback": 5, "timing": 6}
BUSY_HOURS = (2.2, 2.0)   # beta distribution of a request's time of day: busier by day


@dataclass(frozen=True)
class PlannedRequest:
    model: str
    day: int                    # 1 = the first simulated day
    timestamp: pd.Timestamp
    rows: pd.DataFrame          # input columns, as the client sends them
    y_true: np.ndarray          # the ground truth a label will carry


def stream_rng(seed: int, *, model: str, day: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(model.encode()), day, STREAMS[stream]])


def daily_volume(traffic: "Traffic", *, model: str, date: dt.date,
                 rng: np.random.Generator) -> int:
    """The model's rows on ``date``: its base volume, the weekday's factor and noise."""
    base = traffic.models[model].rows_per_day * traffic.weekly_pattern[date.weekday()]
    noise = rng.lognormal(0.0, traffic.daily_noise) if traffic.daily_noise else 1.0
    return max(1, int(round(base * noise)))


def plan_traffic(pool: pd.DataFrame, *, model: str, input_columns: list[str],
                 start: dt.date, days: int, traffic: "Traffic",
                 incidents: tuple["Incident", ...], seed: int) -> list[PlannedRequest]:
    """Every request of ``model`` over ``days`` days from ``start``; ``pool`` holds the
    input columns and ``y_true``."""
    mine = [i for i in incidents if i.model == model]
    out: list[PlannedRequest] = []
    for day in range(1, days + 1):
        date = start + dt.timedelta(days=day - 1)
        active = [i for i in mine if i.active(day)]
        out += _plan_day(pool, model=model, day=day, date=date, input_columns=input_columns,
                         traffic=traffic, active=active, seed=seed)
    return out


def _plan_day(pool: pd.DataFrame, *, model: str, day: int, date: dt.date,
              input_columns: list[str], traffic: "Traffic", active: list["Incident"],
              seed: int) -> list[PlannedRequest]:
    def rng(stream: str) -> np.random.Generator:
        return stream_rng(seed, model=model, day=day, stream=stream)

    volume = daily_volume(traffic, model=model, date=date, rng=rng("volume"))
    rows = pool.iloc[_draw(pool, volume, active, rng("rows"))].reset_index(drop=True)
    y_true = rows["y_true"].to_numpy()
    labels_rng = rng("labels")
    for incident in active:
        y_true = incident.relabel(rows, y_true, labels_rng)
    timing, faults = rng("timing"), rng("faults")
    sizes = _split(volume, traffic.max_rows_per_request, timing)
    seconds = np.sort(timing.beta(*BUSY_HOURS, len(sizes)) * 86_399)
    midnight = pd.Timestamp(date, tz="UTC")
    out, offset = [], 0
    for size, second in zip(sizes, seconds):
        chunk = rows[input_columns].iloc[offset:offset + size].reset_index(drop=True)
        for incident in active:
            chunk = incident.corrupt(chunk, faults)
        out.append(PlannedRequest(model, day, midnight + pd.Timedelta(seconds=float(second)),
                                  chunk, y_true[offset:offset + size]))
        offset += size
    return out


def _draw(pool: pd.DataFrame, volume: int, active: list["Incident"],
          rng: np.random.Generator) -> np.ndarray:
    """Row positions of the day's traffic: uniform, or weighted by the incidents."""
    weights = np.ones(len(pool))
    shaped = False
    for incident in active:
        extra = incident.sampling_weights(pool)
        if extra is not None:
            weights, shaped = weights * extra, True
    if not shaped:
        return rng.integers(0, len(pool), volume)
    return rng.choice(len(pool), size=volume, p=weights / weights.sum())


def _split(total: int, largest: int, rng: np.random.Generator) -> list[int]:
    sizes = []
    while total > 0:
        size = int(min(total, rng.integers(1, largest + 1)))
        sizes.append(size)
        total -= size
    return sizes


def plan_feedback(predictions: pd.DataFrame, *, labels: "Labels", until: pd.Timestamp,
                  model: str, seed: int) -> pd.DataFrame:
    """Which predictions get a label and when (``received_at``); labels that would
    arrive after ``until`` have not arrived yet. ``predictions``: ``prediction_id``,
    ``ts`` and ``y_true``, in the plan's order."""
    rng = stream_rng(seed, model=model, day=0, stream="feedback")
    arrives = rng.random(len(predictions)) < labels.coverage
    low, high = labels.delay_days
    delay = pd.to_timedelta(rng.uniform(low, high, len(predictions)), unit="D")
    out = predictions.assign(received_at=predictions["ts"] + delay)[arrives]
    return out[out["received_at"] <= until].sort_values("received_at", kind="stable") \
        .reset_index(drop=True)
