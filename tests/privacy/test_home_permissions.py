"""Least privilege: with a permissive umask (022) every directory raigov makes in a
home is 0700 and every file 0600, after each of several real CLI commands and after
capture sealed encrypted segments."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _loose(root: Path) -> list[str]:
    """Every path under ``root`` (itself included) whose mode is not 0700/0600."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            found.append(f"{path.relative_to(root)} {oct(mode)}")
    return found


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, preexec_fn=lambda: os.umask(0o022))


@pytest.mark.slow
def test_every_path_in_the_home_is_private_after_each_command_under_umask_022(
        tmp_path: Path) -> None:
    from raigov.models.demo_models import build_demo_model, demo_definition, write_model_files
    from raigov.models.spec import PrivacyConfig

    home = tmp_path / "home"
    key = tmp_path / "data.key"
    key.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAIGOV_DATA_KEY_FILE": str(key)}
    env.pop("RAIGOV_DATA_KEY", None)
    credit = build_demo_model("credit-risk", seed=0)
    spec = credit.spec.model_copy(update={"privacy": PrivacyConfig()})
    files = write_model_files(tmp_path / "files", trainer=demo_definition("credit-risk").trainer,
                              trained=credit.trained, spec=spec, reference=credit.reference)
    rows = tmp_path / "rows.parquet"
    credit.heldout[list(spec.input_columns)].iloc[:60].to_parquet(rows)
    log_script = (
        "import sys, numpy as np, pandas as pd\n"
        "from raigov.home import Home\n"
        "from raigov.models.capture.logger import PredictionLogger\n"
        "rows = pd.read_parquet(sys.argv[2])\n"
        "with PredictionLogger('credit-risk', home=Home.resolve(sys.argv[1])) as log:\n"
        "    ids = log.log_predictions(rows, labels=np.zeros(len(rows), int),\n"
        "                              scores=np.full(len(rows), .3)).prediction_ids\n"
        "    log.log_feedback(ids[:30], [1] * 30)\n")
    steps = [
        ["models", "register", "--spec", str(files.spec), "--artifact", str(files.artifact),
         "--reference", str(files.reference), "--home", str(home)],
        ["keys", "create", "replayer", "--scope", "predict", "--home", str(home)],
        None,                                             # capture through the logger
        ["monitor", "run", "--home", str(home)],
        ["audit", "verify", "--home", str(home)],
    ]
    for step in steps:
        if step is None:
            done = subprocess.run([sys.executable, "-c", log_script, str(home), str(rows)],
                                  capture_output=True, text=True, cwd=ROOT, env=env,
                                  preexec_fn=lambda: os.umask(0o022))
        else:
            done = _run(step, env)
        assert done.returncode in (0, 1), (step, done.stderr[-2000:])
        assert _loose(home) == [], (step, _loose(home))
    segments = list((home / "lake").rglob("*.parquet"))
    assert len(segments) == 2 and all(p.read_bytes()[-4:] == b"PARE" for p in segments)
