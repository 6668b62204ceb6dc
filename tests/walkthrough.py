"""Runs the README's "Bring your own model" walkthrough as a new user would: every
fenced block between the walkthrough markers, in order, in one working directory;
``python`` blocks as scripts, ``bash`` blocks through bash (``set -euo pipefail``), the
block that starts ``raigov serve`` in the background until the walk ends."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)
README_PORT = "8765"


@dataclass(frozen=True)
class Step:
    language: str
    code: str

    @property
    def serves(self) -> bool:
        return self.language == "bash" and self.code.strip().startswith("raigov serve")


def walkthrough_steps(readme: str) -> list[Step]:
    section = readme[readme.index(START): readme.index(END)]
    return [Step(lang, code) for lang, code in BLOCK.findall(section)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_walkthrough(readme: str, workdir: Path, *, python: Path,
                    env: dict[str, str] | None = None, timeout_s: float = 300) -> list[str]:
    """Run every step; return each step's standard output. A failing step raises
    AssertionError with its code and output."""
    port = str(_free_port())
    environment = dict(env if env is not None else os.environ)
    environment["PATH"] = f"{python.parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["RAIGOV_HOME"] = str(workdir / "raigov-home")
    environment.pop("PYTHONPATH", None)
    outputs: list[str] = []
    server: subprocess.Popen | None = None
    try:
        for number, step in enumerate(walkthrough_steps(readme), start=1):
            code = step.code.replace(README_PORT, port)
            if step.serves:
                log = open(workdir / "serve.log", "wb")
                server = subprocess.Popen(["bash", "-c", "exec " + code.strip()], cwd=workdir,
                                          env=environment, stdout=log, stderr=subprocess.STDOUT)
                _wait_healthy(port, server, workdir / "serve.log")
                outputs.append("")
                continue
            if step.language == "python":
                script = workdir / f"step{number}.py"
                script.write_text(code)
                cmd = [str(python), str(script)]
            else:
                cmd = ["bash", "-c", "set -euo pipefail\n" + code]
            done = subprocess.run(cmd, cwd=workdir, env=environment, capture_output=True,
                                  text=True, timeout=timeout_s)
            assert done.returncode == 0, (f"walkthrough step {number} failed "
                                          f"({done.returncode}):\n{code}\n{done.stdout}\n{done.stderr}")
            outputs.append(done.stdout)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return outputs


def _wait_healthy(port: str, server: subprocess.Popen, log: Path, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert server.poll() is None, f"raigov serve exited:\n{log.read_text()}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"raigov serve never became healthy:\n{log.read_text()}")
