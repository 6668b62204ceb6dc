"""A home with the real credit-risk demo model registered, trained once per session and
copied for each test (homes are plain directories; under the test matrix their catalog
and lake are copied too, see tests/home_copies.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from raigov.home import Home
from tests import home_copies

MODEL = "credit-risk"


@pytest.fixture(scope="session")
def credit_demo():
    from raigov.models.demo_models import build_demo_model

    return build_demo_model(MODEL, seed=0)


@pytest.fixture(scope="session")
def template_home(tmp_path_factory, credit_demo, request) -> Home:
    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model

    with home_copies.own_stores(request) as stores:
        home = Home.resolve(tmp_path_factory.mktemp("template") / "home").ensure()
        artifact = tmp_path_factory.mktemp("artifact")
        save_artifact(artifact, credit_demo.trained)
        register_model(home, credit_demo.spec, artifact=artifact, reference=credit_demo.reference)
    return home_copies.remember(home, stores)


@pytest.fixture
def model_home(template_home: Home, tmp_path: Path) -> Home:
    """A private copy of the template (its catalog and lake too, under the matrix)."""
    return home_copies.copy_home(template_home, tmp_path / "home")[0]


@pytest.fixture(scope="session")
def request_rows(credit_demo) -> list[dict]:
    """Valid request rows (the held-out German credit applicants)."""
    frame: pd.DataFrame = credit_demo.heldout[list(credit_demo.spec.input_columns)]
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
