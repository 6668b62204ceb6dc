"""raigov from a wheel (not the editable checkout), installed in a fresh virtualenv and
run from a directory that holds a user's own ``models/``, ``policies/`` and
``dashboard/`` packages: both theirs and ours import, each as itself.

The fresh virtualenv gets raigov from the wheel alone; its third-party dependencies
(torch, duckdb, evidently, ...) come from this test environment's site-packages through
a ``.pth`` line, so the test needs no network and no multi-minute reinstall. A ``.pth``
line adds a directory to ``sys.path`` without running that directory's own ``.pth``
files, so the editable checkout's import hook never loads there (the test checks that
every raigov module comes from the wheel)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

USER_PACKAGES = {
    "models/__init__.py": "WHO = 'user models'\n",
    "policies/__init__.py": "WHO = 'user policies'\n",
    "dashboard/__init__.py": "WHO = 'user dashboard'\n",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, capture_output=True)
    [built] = list(out.glob("raigov-*.whl"))
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(purelib), str(wheel)], check=True, capture_output=True)
    script = venv / "bin" / "raigov"   # what pip's console-script entry point would be
    script.write_text(f"#!{venv / 'bin' / 'python'}\nfrom raigov.cli import main\nmain()\n")
    script.chmod(0o755)
    return venv


def test_the_wheel_holds_every_package_and_its_data_files(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = ["raigov/models/spec.py", "raigov/monitors/runner.py",
                "raigov/policies/packs/fairness-four-fifths.yaml",
                "raigov/reports/templates/style.css", "raigov/reports/schema/model_card.schema.json",
                "raigov/dashboard/app.py", "raigov/dashboard/app_pages/fleet.py",
                "raigov/dashboard/.streamlit/config.toml", "raigov/cli/commands.py",
                "raigov/cli/demo/scenarios/default.yaml", "raigov/store/catalog_schema.sql",
                "raigov/models/demo_data/adult.parquet"]
    assert [n for n in expected if n not in names] == []
    assert not [n for n in names if n.split("/")[0] in {"models", "monitors", "policies",
                                                         "dashboard", "reports", "cli"}]


def test_a_users_own_packages_and_raigov_import_side_by_side(fresh_venv: Path, tmp_path: Path):
    for rel, text in USER_PACKAGES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    code = ("import models, policies, dashboard, raigov.models.spec, raigov.policies.loader, "
            "raigov.dashboard, raigov.cli, raigov.store.catalog\n"
            "print(models.WHO, '|', policies.WHO, '|', dashboard.WHO)\n"
            "import sys\n"
            "mods = [m for n, m in sys.modules.items() if n.startswith('raigov')]\n"
            "print(len(mods), sorted({str(getattr(m, '__file__', '') or '').split('site-packages')[0]"
            " for m in mods if getattr(m, '__file__', None)}))\n")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", code], cwd=tmp_path,
                            env=env, capture_output=True, text=True, check=True)
    first, second = result.stdout.strip().splitlines()
    assert first == "user models | user policies | user dashboard"
    count, roots = second.split(" ", 1)
    assert int(count) > 5
    assert roots == repr([str(fresh_venv / "lib")  # every raigov module is the wheel's
                          + f"/python{sys.version_info.major}.{sys.version_info.minor}/"])


def test_the_installed_command_runs_from_the_users_directory(fresh_venv: Path, tmp_path: Path):
    for rel, text in USER_PACKAGES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run([str(fresh_venv / "bin" / "python"), "-m", "raigov.cli", "metrics"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "fairness.demographic_parity_ratio" in result.stdout


def test_the_readme_walkthrough_works_from_the_wheel_beside_the_users_packages(
        fresh_venv: Path, tmp_path: Path):
    from tests.walkthrough import run_walkthrough
    from tests.walkthrough_checks import check_walkthrough_results

    for rel, text in USER_PACKAGES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    python = fresh_venv / "bin" / "python"
    readme = (ROOT / "README.md").read_text()
    outputs = run_walkthrough(readme, tmp_path, python=python, env=env)
    check_walkthrough_results(tmp_path, outputs, python=python)
    assert (tmp_path / "models" / "__init__.py").read_text() == USER_PACKAGES["models/__init__.py"]
