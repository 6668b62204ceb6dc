"""Run ``raigov serve`` as a separate process (the demo and the end-to-end tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from raigov.home import Home

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
    env: dict[str, str] = field(default_factory=dict)   # added to this process's environment
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
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
