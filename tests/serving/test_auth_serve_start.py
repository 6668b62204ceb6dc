"""How ``raigov serve`` starts: never without an active key unless ``--no-auth``, which
only a loopback address may have; and over TLS with a certificate of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from raigov.home import Home
from raigov.keys import create_key, revoke_key
from raigov.models.serving import auth
from raigov.models.serving.server_process import ServerProcess, free_port
from tests.serving.conftest import MODEL
from tests.serving.tls import self_signed_certificate

pytestmark = pytest.mark.slow
PREDICT = f"/v1/models/{MODEL}/predict"


def _serve(home: Home, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raigov.cli", "serve", "--home", str(home.root),
                           "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_serve_refuses_to_start_without_an_active_key(model_home: Home) -> None:
    none = _serve(model_home)
    create_key(model_home, "gone", scopes=["predict"])
    revoke_key(model_home, "gone")
    revoked = _serve(model_home)
    for done in (none, revoked):
        assert done.returncode == 2
        assert auth.NO_ACTIVE_KEY.format(root=model_home.root) in done.stderr.replace("\n", " ")


def test_no_auth_is_refused_on_every_address_but_loopback(model_home: Home) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.7"):
        done = _serve(model_home, "--no-auth", "--host", host)
        assert done.returncode == 2, host
        assert auth.NO_AUTH_NOT_LOOPBACK.format(allowed="127.0.0.1, ::1, localhost",
                                                host=host) in done.stderr.replace("\n", " ")


def test_no_auth_on_loopback_serves_without_keys_and_warns(model_home: Home, request_rows) -> None:
    server = ServerProcess(model_home, free_port(), ("--no-auth", "--host", "127.0.0.1")).start()
    try:
        r = httpx.post(server.url + PREDICT, json={"rows": request_rows[:2]}, timeout=30)
        listed = httpx.get(server.url + "/v1/models", timeout=30)
    finally:
        server.stop()
    assert r.status_code == 200 and listed.status_code == 200
    log = server.log_path.read_text()
    assert auth.NO_AUTH_WARNING.format(host="127.0.0.1", port=server.port) in log.replace("\n", " ")
    import duckdb

    pattern = str(model_home.lake_table("predictions") / "**" / "*.parquet")
    keys = duckdb.sql(f"SELECT DISTINCT key FROM read_parquet('{pattern}')").fetchall()
    assert keys == [("no-auth",)]


def test_tls_serves_https_with_a_self_signed_certificate(model_home: Home, request_rows,
                                                         tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server = ServerProcess.with_key(model_home, free_port(),
                                    ("--tls-cert", str(cert), "--tls-key", str(key)), tls_ca=cert)
    with server:
        assert server.url.startswith("https://")
        with server.client() as client:
            r = client.post(PREDICT, json={"rows": request_rows[:3]})
            refused = client.post(PREDICT, json={"rows": request_rows[:1]}, headers={"Authorization": ""})
        with pytest.raises(httpx.ConnectError):          # our certificate is no public CA's
            httpx.get(server.url + "/healthz", timeout=10)
        with pytest.raises(httpx.HTTPError):              # plain HTTP is not spoken
            httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=10)
    assert r.status_code == 200 and len(r.json()["predictions"]) == 3
    assert refused.status_code == 401


def test_only_one_of_the_tls_options_is_a_usage_error(model_home: Home, tmp_path: Path) -> None:
    cert, _ = self_signed_certificate(tmp_path)
    done = _serve(model_home, "--tls-cert", str(cert))
    assert done.returncode == 2 and "Give both --tls-cert and --tls-key" in done.stderr
