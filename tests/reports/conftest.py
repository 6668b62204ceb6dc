"""Fixtures of the report tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from raigov.home import Home


@pytest.fixture(scope="module")
def module_home(seeded_home_template: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A private copy of the seeded home shared by one module's tests."""
    target = Path(tmp_path_factory.mktemp("reports")) / "home"
    shutil.copytree(seeded_home_template.root, target)
    return Home.resolve(target)

