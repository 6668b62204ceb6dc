"""``raigov dashboard --tls-cert --tls-key``: Streamlit serves HTTPS with the given
certificate (and nothing over plain HTTP)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from raigov.home import Home
from raigov.models.serving.server_process import free_port
from tests.serving.tls import self_signed_certificate

pytestmark = pytest.mark.slow


def test_the_dashboard_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    home = Home.resolve(tmp_path / "home").ensure()
    port = free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "raigov.cli", "dashboard", "--home",
                                    str(home.root), "--port", str(port), "--tls-cert", str(cert),
                                    "--tls-key", str(key)], stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(os.environ), cwd=tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        deadline, health = time.monotonic() + 90, None
        while time.monotonic() < deadline and process.poll() is None and health is None:
            try:
                health = httpx.get(f"https://127.0.0.1:{port}/_stcore/health", verify=trust, timeout=2)
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None and health.status_code == 200, log.read_text()[-2000:]
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert f"raigov dashboard on https://127.0.0.1:{port}" in log.read_text()
