"""Run ``raigov serve`` as a separate process (the demo and the end-to-end tests).

A server needs an API key, as for any user: :meth:`ServerProcess.with_key` makes one
in the home (through :func:`raigov.keys.create_key`, what ``raigov keys create`` calls)
and keeps its token; :attr:`ServerProcess.headers` and :meth:`ServerProcess.client`
send it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import ssl

from raigov.home import Home

# A service key's scopes: everything but admin.
SERVICE_SCOPES = ("predict", "feedback", "log", "backfill", "metrics")

SERVER_DID_NOT_START = ("raigov serve did not become healthy within {timeout:.0f} s "
                        "(exit code {code}). Its log: {log}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    home: Home
    port: int
    args: tuple[str, ...] = ()
    log_path: Path | None = None
    token: str | None = field(default=None, repr=False)
    tls_ca: Path | None = None      # serving HTTPS: the certificate clients verify with
    env: dict[str, str] = field(default_factory=dict)   # added to this process's environment
    process: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def with_key(cls, home: Home, port: int, args: tuple[str, ...] = (), *,
                 name: str | None = None, scopes: tuple[str, ...] = SERVICE_SCOPES,
                 models: tuple[str, ...] | None = None, rate_per_s: float | None = None,
                 actor: str = "tests", **options: object) -> "ServerProcess":
        """A server for ``home`` with a new key (named ``name``, else after the port)."""
        from raigov.keys import create_key

        made = create_key(home, name or f"server-{port}", scopes=scopes, models=models,
                          rate_per_s=rate_per_s, actor=actor)
        return cls(home, port, args, token=made.token, **options)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` (empty without a key)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def verify(self) -> "ssl.SSLContext | bool":
        """What clients verify the server with: its own certificate when serving TLS."""
        import ssl

        return ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else True

    def client(self, **options: object) -> httpx.Client:
        """An HTTP client for this server that sends its key."""
        headers = {**self.headers, **options.pop("headers", {})}  # type: ignore[dict-item]
        options = {"timeout": 30, **options}
        return httpx.Client(base_url=self.url, headers=headers, verify=self.verify,
                            **options)  # type: ignore[arg-type]

    def start(self, *, timeout_s: float = 120.0) -> "ServerProcess":
        self.log_path = self.log_path or self.home.root / f"serve-{self.port}.log"
        log = open(self.log_path, "ab")
        cmd = [sys.executable, "-m", "raigov.cli", "serve", "--home", str(self.home.root),
               "--port", str(self.port), *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.wait_ready(timeout_s=timeout_s)
        return self

    def wait_ready(self, *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/healthz", timeout=5,
                             verify=self.verify).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        code = None if self.process is None else self.process.poll()
        log = self.log_path.read_text()[-3000:] if self.log_path and self.log_path.exists() else ""
        self.kill()
        raise RuntimeError(SERVER_DID_NOT_START.format(timeout=timeout_s, code=code, log=log))

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (crash tests)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """SIGTERM: a graceful shutdown that seals the spool."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
