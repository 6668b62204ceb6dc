"""The dashboard loads the home's plugins before any page runs, and shows a plugin that
does not load as an error naming it (no page, no data)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from raigov import plugins
from raigov.home import Home
from tests.dashboard.conftest import app_test


@pytest.fixture
def bare_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setattr(plugins, "_LOADED", {})
    home = Home.resolve(tmp_path / "home").ensure()
    monkeypatch.setenv("RAIGOV_HOME", str(home.root))
    return home


def test_the_dashboard_imports_the_plugins_its_homes_settings_list(
        bare_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dashboard_plugin_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dashboard_plugin_probe", raising=False)
    bare_home.settings_path.write_text("plugins: [dashboard_plugin_probe]\n")
    at = app_test().run()
    assert "dashboard_plugin_probe" in sys.modules
    assert [p.name for p in plugins.loaded_plugins()] == ["dashboard_plugin_probe"]
    assert [e.value for e in at.error] == [] and at.text_input   # the sign-in page ran
    sys.modules.pop("dashboard_plugin_probe", None)


def test_a_plugin_that_does_not_load_is_shown_as_the_error_and_nothing_else_runs(
        bare_home: Home) -> None:
    bare_home.settings_path.write_text("plugins: [no_such_raigov_plugin]\n")
    at = app_test().run()
    assert [e.value for e in at.error] == [plugins.PLUGIN_FAILED.format(
        name="no_such_raigov_plugin", where=f"plugins list in {bare_home.settings_path}, line 1",
        error="ModuleNotFoundError: No module named 'no_such_raigov_plugin'", hint="")]
    assert not at.text_input   # the sign-in page never ran
