"""The vendored demo data sets (see demo_data/ATTRIBUTION.md)."""

from __future__ import annotations

from importlib import resources
from typing import Literal

import pandas as pd

ADULT_LABEL = "income"
GERMAN_LABEL = "good_credit"


def _read(name: str) -> pd.DataFrame:
    with resources.as_file(resources.files("raigov.models") / "demo_data" / name) as path:
        return pd.read_parquet(path)


def load_adult(split: Literal["train", "test", "all"] = "all") -> pd.DataFrame:
    """Adult census income: 48,842 rows (32,561 train, 16,281 test); label ``income``."""
    df = _read("adult.parquet")
    if split != "all":
        df = df[df["split"] == split].reset_index(drop=True)
    return df


def load_german() -> pd.DataFrame:
    """German credit: 1,000 rows; label ``good_credit`` (1 good risk)."""
    return _read("german_credit.parquet")
