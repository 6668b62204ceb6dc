"""Shared fixtures. Homes are real directories with real DuckDB files and Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from raigov.home import Home

ARTIFACTS = Path(os.environ.get("RAIGOV_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.resolve(tmp_path / "home").ensure()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and rendered pages for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
