"""The package layout holds: imports only go down the layers, no two modules import
each other in a circle, and pyproject's package list names every package folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.core.layout_rules import FOLDERS, direction_violations, import_cycles

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_imports_a_layer_above_its_own():
    violations = direction_violations(ROOT)
    assert violations == [], "\n".join(map(str, violations))


def test_no_modules_import_each_other_in_a_circle():
    assert import_cycles(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_direction_check_fails_when_a_floor_module_imports_the_roof(tmp_path):
    root = _tree(tmp_path, {
        "raigov/__init__.py": "",
        "raigov/home.py": "def f():\n    from raigov.cli.commands import main\n",
        "cli/__init__.py": "", "cli/commands.py": "import raigov.home\n",
    })
    [violation] = direction_violations(root)
    assert (violation.path, violation.line, violation.importer_layer,
            violation.imported_layer) == ("raigov/home.py", 2, "raigov", "cli")
    assert "raigov.cli.commands" in str(violation)


def test_the_direction_check_ignores_imports_made_only_for_type_checking(tmp_path):
    root = _tree(tmp_path, {
        "models/__init__.py": "",
        "models/spec.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                           "    from raigov.monitors.base import MetricRow\n"),
    })
    assert direction_violations(root) == []


def test_the_cycle_check_finds_two_modules_importing_each_other(tmp_path):
    root = _tree(tmp_path, {
        "monitors/__init__.py": "",
        "monitors/a.py": "from raigov.monitors import b\n",
        "monitors/b.py": "def g():\n    from raigov.monitors.a import x\n",
    })
    assert import_cycles(root) == [["raigov.monitors.a", "raigov.monitors.b"]]


def test_pyproject_installs_every_package_folder_under_the_raigov_namespace():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {package: folder for folder, package in FOLDERS.items()}
    declared = set(config["packages"])
    found = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if folder == "raigov" and rel.parts and rel.parts[0] in FOLDERS:
                continue
            found.add(".".join([package, *rel.parts]))
    assert found == declared
