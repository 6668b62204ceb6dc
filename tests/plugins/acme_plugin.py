"""A user's plugin distribution, written to disk by the tests: ``raigov-acme`` adds an
architecture (``acme_scorer``, a linear scorer over raigov's preprocessing), a monitor
family (``acme``, emitting ``acme.mean_score``), a rule type (``acme_ceiling``) and a
policy-check output format (``acme``).
Nothing in raigov knows of it; it reaches raigov only through the plugin doors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = "raigov_acme"
DISTRIBUTION = "raigov-acme"
ARCHITECTURE = "acme_scorer"
FAMILY = "acme"
METRIC = "acme.mean_score"
RULE_TYPE = "acme_ceiling"
FORMAT = "acme"
#: The module a settings file lists (importing it registers everything).
AUTOLOAD = f"{PACKAGE}.autoload"

PYPROJECT = f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{DISTRIBUTION}"
version = "0.1.0"

[project.entry-points."raigov.plugins"]
acme = "{PACKAGE}:register"

[tool.setuptools]
packages = ["{PACKAGE}"]
"""

INIT = '''"""raigov-acme: registers its parts when raigov calls ``register``."""


def register() -> None:
    import raigov_acme.architecture  # noqa: F401
    import raigov_acme.monitor  # noqa: F401
    import raigov_acme.rule  # noqa: F401
    import raigov_acme.report  # noqa: F401
'''

AUTOLOAD_SOURCE = '''"""Importing this module registers raigov-acme (for a settings file's list)."""
from raigov_acme import register

register()
'''

ARCHITECTURE_SOURCE = f'''import torch
from torch import nn

from raigov.models.artifact import register_architecture


class AcmeScorer(nn.Module):
    """One linear layer over the encoded row: the logit."""

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


register_architecture("{ARCHITECTURE}", AcmeScorer)
'''

MONITOR_SOURCE = f'''from typing import ClassVar

from raigov.monitors.base import MetricInfo, MetricRow, register_monitor


@register_monitor
class AcmeMonitor:
    family: ClassVar[str] = "{FAMILY}"
    metrics: ClassVar[tuple] = (MetricInfo("{METRIC}", "mean score of the window", False),)
    output_kinds: ClassVar[tuple] = ("binary",)

    def run(self, window):
        scores = window.frame["score"].astype(float)
        return [MetricRow("{METRIC}", float(scores.mean()), n=int(len(scores)))]
'''

RULE_SOURCE = f'''from typing import Literal

from pydantic import Field

from raigov.policies.rules import Rule, Verdict, register_rule_type


@register_rule_type
class AcmeCeiling(Rule):
    """The value stays at or below ``ceiling``."""

    type: Literal["{RULE_TYPE}"] = "{RULE_TYPE}"
    ceiling: float = Field(strict=True)

    def expectation(self) -> str:
        return f"at most {{self.ceiling:g}} (acme)"

    def judge(self, row, *, segment):
        ok = float(row.value) <= self.ceiling
        word = "under" if ok else "over"
        return Verdict("pass" if ok else "fail",
                       f"{{self.metric}} [{{segment}}] = {{row.value:.4f}} is {{word}} the acme "
                       f"ceiling {{self.ceiling:g}}", float(row.value))
'''


REPORT_SOURCE = f'''from raigov.policies.formats import register_format


@register_format("{FORMAT}")
def render_acme(findings, *, policies, fail_on_insufficient=False):
    return "\\n".join(f"ACME {{f.rule_id}} {{f.status}}" for f in findings)
'''


def write_plugin_source(root: Path) -> Path:
    """The distribution's source tree under ``root``; returns the project directory."""
    project = root / DISTRIBUTION
    package = project / PACKAGE
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    for name, text in {"__init__": INIT, "autoload": AUTOLOAD_SOURCE,
                       "architecture": ARCHITECTURE_SOURCE, "monitor": MONITOR_SOURCE,
                       "rule": RULE_SOURCE, "report": REPORT_SOURCE}.items():
        (package / f"{name}.py").write_text(text)
    return project


def pip_install(project: Path, target: Path) -> None:
    """Install ``project`` into ``target`` with this environment's pip (offline: no
    build isolation, no dependencies), so importlib.metadata sees its entry points
    when ``target`` is on the path."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(project)], check=True, capture_output=True, timeout=300)
