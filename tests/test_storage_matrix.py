"""The storage tests again with the catalog on PostgreSQL and the lake on S3: the second
leg of the test matrix, run by the README's one test command (a pytest in a child
process with ``RAIGOV_TEST_CATALOG=postgresql RAIGOV_TEST_LAKE=s3``, its own throwaway
PostgreSQL server and SeaweedFS endpoint). The suites it runs are ``MATRIX_SUITES``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MATRIX_SUITES = ("tests/store",)


@pytest.mark.slow
def test_the_storage_suites_pass_on_postgresql_and_s3(tmp_path) -> None:
    env = {**os.environ, "RAIGOV_TEST_CATALOG": "postgresql", "RAIGOV_TEST_LAKE": "s3"}
    for name in ("RAIGOV_CATALOG_URL", "RAIGOV_LAKE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'matrix'}", *MATRIX_SUITES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 30, summary
    # The lake tests that look at a local lake's own files are left out there, counted.
    assert re.search(r"(\d+) deselected", summary), summary
    assert "failed" not in summary and "error" not in summary, summary
