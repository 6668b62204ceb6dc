"""raigov.plugins: entry points (a real dist-info directory on the path) and the home's
settings list, loaded once per process, and every way a declaration can be wrong."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from raigov import plugins
from raigov.errors import ConfigError
from raigov.home import Home

COUNTER = '''CALLS = []
VALUE = 3


def register():
    CALLS.append(1)
'''


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch):
    """Each test starts as a process that has loaded no plugin yet."""
    monkeypatch.setattr(plugins, "_LOADED", {})
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("plugin_counter"):
            del sys.modules[name]


def _distribution(root: Path, entry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution as an installer leaves it: its module and a dist-info directory
    with METADATA and entry_points.txt, on the path."""
    (root / "plugin_counter.py").write_text(COUNTER)
    info = root / "plugin-counter-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-counter\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[raigov.plugins]\n{entry}\n")
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()


def _settings(home: Home, text: str) -> Path:
    home.settings_path.write_text(text)
    return home.settings_path


def test_an_entry_point_callable_is_called_once_however_often_plugins_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Home) -> None:
    _distribution(tmp_path, "counter = plugin_counter:register", monkeypatch)
    plugins.load_plugins()
    loaded = plugins.load_plugins(home)
    import plugin_counter

    assert plugin_counter.CALLS == [1]
    assert [(p.name, p.target) for p in loaded] == [("counter", "plugin_counter:register")]
    assert loaded[0].where == ("entry point 'counter = plugin_counter:register' in group "
                               "raigov.plugins of plugin-counter 0.3")


def test_a_settings_module_is_imported_and_listed_with_its_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Home) -> None:
    (tmp_path / "plugin_counter_settings.py").write_text(COUNTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _settings(home, "# mine\nplugins:\n  - plugin_counter_settings\n")
    loaded = plugins.load_plugins(home)
    assert "plugin_counter_settings" in sys.modules
    assert [(p.name, p.where) for p in loaded] == [
        ("plugin_counter_settings", f"plugins list in {path}, line 3")]
    assert plugins.loaded_plugins() == loaded


def test_a_missing_module_names_the_plugin_the_file_line_error_and_a_close_match(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Home) -> None:
    _distribution(tmp_path, "counter = plugin_counter:register", monkeypatch)
    path = _settings(home, "plugins: [plugin_countr]\n")
    with pytest.raises(ConfigError) as err:
        plugins.load_plugins(home)
    assert str(err.value) == plugins.PLUGIN_FAILED.format(
        name="plugin_countr", where=f"plugins list in {path}, line 1",
        error="ModuleNotFoundError: No module named 'plugin_countr'",
        hint=" Did you mean 'plugin_counter'?")
    assert [p.name for p in plugins.loaded_plugins()] == ["counter"]   # loaded before it


def test_an_entry_point_naming_something_not_callable_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _distribution(tmp_path, "counter = plugin_counter:VALUE", monkeypatch)
    with pytest.raises(ConfigError) as err:
        plugins.load_plugins()
    error = plugins.NOT_CALLABLE.format(target="plugin_counter:VALUE", type="int")
    assert str(err.value) == plugins.PLUGIN_FAILED.format(
        name="counter", where=("entry point 'counter = plugin_counter:VALUE' in group "
                               "raigov.plugins of plugin-counter 0.3"),
        error=f"TypeError: {error}", hint="")
    assert plugins.loaded_plugins() == []


def test_a_plugin_that_registers_a_taken_name_fails_with_the_registrys_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Home) -> None:
    (tmp_path / "plugin_counter_clash.py").write_text(
        "from typing import Literal\n"
        "from raigov.policies.rules import ThresholdRule, register_rule_type\n\n"
        "@register_rule_type\n"
        "class Mine(ThresholdRule):\n"
        "    type: Literal['threshold'] = 'threshold'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _settings(home, "plugins:\n- plugin_counter_clash\n")
    with pytest.raises(ConfigError) as err:
        plugins.load_plugins(home)
    assert str(err.value) == plugins.PLUGIN_FAILED.format(
        name="plugin_counter_clash", where=f"plugins list in {path}, line 2",
        error="ConfigError: rule type 'threshold' is already registered "
              "(by raigov.policies.rules.ThresholdRule).", hint="")


def test_no_settings_file_and_an_empty_list_mean_no_plugins(home: Home) -> None:
    assert plugins.settings_plugins(home) == []
    _settings(home, "plugins:\n")
    assert plugins.settings_plugins(home) == []
    _settings(home, "")
    assert plugins.settings_plugins(home) == []


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n", lambda p: plugins.SETTINGS_NOT_MAPPING.format(path=p, found="a list")),
    ("plugin: [a]\n", lambda p: plugins.SETTINGS_UNKNOWN_KEY.format(
        key="plugin", path=p, line=1, hint=" Did you mean 'plugins'?", known="plugins")),
    ("plugins: my_plugin\n", lambda p: plugins.PLUGINS_NOT_LIST.format(
        path=p, line=1, found="'my_plugin'")),
    ("plugins:\n  - ok_one\n  - my-plugin\n", lambda p: plugins.NOT_A_MODULE_NAME.format(
        value="my-plugin", path=p, line=3)),
    ("plugins:\n  - {a: 1}\n", lambda p: plugins.NOT_A_MODULE_NAME.format(
        value="a mapping", path=p, line=2)),
    ("plugins:\n  - 12\n", lambda p: plugins.NOT_A_MODULE_NAME.format(
        value="12", path=p, line=2)),
])
def test_a_wrong_settings_file_names_the_file_line_and_what_is_allowed(
        home: Home, text: str, message) -> None:
    path = _settings(home, text)
    with pytest.raises(ConfigError) as err:
        plugins.settings_plugins(home)
    assert str(err.value) == message(path)


def test_settings_that_are_not_yaml_name_the_file(home: Home) -> None:
    path = _settings(home, "plugins: [a\n")
    with pytest.raises(ConfigError, match=f"^Settings file {path} is not valid YAML: "):
        plugins.settings_plugins(home)


def test_the_settings_path_is_in_the_home(home: Home) -> None:
    assert home.settings_path == home.root / "settings.yaml"
