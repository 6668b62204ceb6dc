"""Simulated traffic: held-out rows replayed as requests spread over days, and their
ground-truth labels arriving later."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

WEEKDAY_FACTOR = (1.0, 1.05, 1.1, 1.05, 1.0, 0.6, 0.5)   # Monday .. Sunday


@dataclass(frozen=True)
class PlannedRequest:
    day: int
    timestamp: pd.Timestamp
    rows: pd.DataFrame          # input columns
    y_true: np.ndarray


def plan_requests(heldout: pd.DataFrame, *, input_columns: list[str], days: int,
                  start: dt.date, rows_per_day: int, seed: int,
                  max_rows_per_request: int = 16) -> list[PlannedRequest]:
    """Requests of 1..max rows, timestamps spread over each day (busier in office
    hours), daily volume following a weekly pattern."""
    rng = np.random.default_rng(seed)
    out: list[PlannedRequest] = []
    for day in range(days):
        date = start + dt.timedelta(days=day)
        volume = max(1, int(rows_per_day * WEEKDAY_FACTOR[date.weekday()]))
        sample = heldout.iloc[rng.integers(0, len(heldout), volume)].reset_index(drop=True)
        sizes = _split(volume, max_rows_per_request, rng)
        seconds = np.sort(rng.beta(2.2, 2.0, len(sizes)) * 86_399)
        offset = 0
        for size, sec in zip(sizes, seconds):
            chunk = sample.iloc[offset:offset + size]
            ts = pd.Timestamp(date, tz="UTC") + pd.Timedelta(seconds=float(sec))
            out.append(PlannedRequest(day, ts, chunk[input_columns].reset_index(drop=True),
                                      chunk["y_true"].to_numpy()))
            offset += size
    return out


def _split(total: int, largest: int, rng: np.random.Generator) -> list[int]:
    sizes = []
    while total > 0:
        size = int(min(total, rng.integers(1, largest + 1)))
        sizes.append(size)
        total -= size
    return sizes


def plan_feedback(predictions: pd.DataFrame, *, coverage: float, min_delay_days: float,
                  max_delay_days: float, until: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Which predictions get a label and when (``received_at``); labels that would
    arrive after ``until`` have not arrived yet."""
    rng = np.random.default_rng(seed)
    arrives = rng.random(len(predictions)) < coverage
    delay = pd.to_timedelta(rng.uniform(min_delay_days, max_delay_days, len(predictions)), unit="D")
    out = predictions.assign(received_at=predictions["ts"] + delay)[arrives]
    return out[out["received_at"] <= until].sort_values("received_at").reset_index(drop=True)
