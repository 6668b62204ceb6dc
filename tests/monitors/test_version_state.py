"""Derived per-version state: the reference profile is kept in the home's cache, outside
the artifact directory, and rebuilt when it no longer matches the reference."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from raigov.home import Home
from raigov.monitors.reference_profile import build_reference_profile
from raigov.monitors.version_state import PROFILE_FILE, VersionStates, version_cache_dir

MODEL = "credit-risk"


@pytest.fixture(scope="module")
def credit():
    from raigov.models.demo_models import build_demo_model

    return build_demo_model(MODEL, seed=0)


@pytest.fixture
def registered_home(tmp_path: Path, credit) -> Home:
    from raigov.models.artifact import save_artifact
    from raigov.models.registry import register_model

    home = Home.resolve(tmp_path / "home").ensure()
    save_artifact(tmp_path / "artifact", credit.trained)
    register_model(home, credit.spec, artifact=tmp_path / "artifact", reference=credit.reference)
    return home


def test_the_reference_profile_is_cached_in_the_home_not_in_the_artifact_directory(
        registered_home: Home, credit) -> None:
    states = VersionStates(registered_home)
    profile = states.profile(MODEL, 1)
    path = version_cache_dir(registered_home, MODEL, 1) / PROFILE_FILE
    assert path.is_file()
    assert path.parent == registered_home.root / "cache" / MODEL / "1"
    assert not (states.model(MODEL, 1).artifact_dir / PROFILE_FILE).exists()
    assert profile == json.loads(json.dumps(build_reference_profile(credit.reference,
                                                                    spec=credit.spec)))
    assert os.stat(path.parent).st_mode & 0o777 == 0o700


def test_a_cached_profile_is_read_back_and_a_stale_one_rebuilt(registered_home: Home) -> None:
    path = version_cache_dir(registered_home, MODEL, 1) / PROFILE_FILE
    first = VersionStates(registered_home).profile(MODEL, 1)
    stored = json.loads(path.read_text())
    stored["profile"]["rows"] = 7                     # what a read-back would return
    path.write_text(json.dumps(stored))
    assert VersionStates(registered_home).profile(MODEL, 1)["rows"] == 7
    stored["stamp"]["spec_sha256"] = "0" * 64         # no longer this version's
    path.write_text(json.dumps(stored))
    assert VersionStates(registered_home).profile(MODEL, 1)["rows"] == first["rows"] != 7
    path.write_text("{not json")                      # damaged: rebuilt, never trusted
    assert VersionStates(registered_home).profile(MODEL, 1)["rows"] == first["rows"]
    assert json.loads(path.read_text())["profile"]["rows"] == first["rows"]


def test_a_run_reads_each_version_once(registered_home: Home, monkeypatch) -> None:
    from raigov.models import registry

    calls: list[tuple[str, int]] = []
    real = registry.get_model

    def counting(home, name, version=None):
        calls.append((name, version))
        return real(home, name, version)

    monkeypatch.setattr(registry, "get_model", counting)
    states = VersionStates(registered_home)
    for _ in range(3):
        states.model(MODEL, 1), states.reference(MODEL, 1), states.profile(MODEL, 1)
    assert calls == [(MODEL, 1)]
