"""The demo's last stage: start ``raigov dashboard`` as a child process, wait until it
answers, create the demo user with a fresh password (printed once), and keep running
until Ctrl-C."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx

from raigov.errors import RaigovError
from raigov.home import Home

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_PORT = 8501
DEMO_USER = "demo"
DEMO_ROLE = "admin"
DASHBOARD_LOG = "raigov.dashboard.log"
DID_NOT_START = ("The dashboard did not answer on {url} within {timeout:.0f} s (exit code "
                 "{code}). Its log, {log}:\n{tail}")
READY = ("[bold green]Dashboard[/] on [link={url}]{url}[/link]\n"
         "  sign in as [bold]{user}[/] (role {role}) with password [bold]{password}[/]\n"
         "  (shown once; change it with `raigov users passwd {user} --home {home}`)\n"
         "Press Ctrl-C to stop.")
STOPPED = "The dashboard stopped by itself (exit code {code}); its log: {log}"
NO_USERS = ("raigov.users is not available ({error}); no demo user was created: add one "
            "with `raigov users add NAME --role admin --home {home}`.")


class DashboardStartError(RaigovError):
    """The dashboard process did not come up."""


def pick_port(wanted: int | None) -> int:
    """``wanted``, else 8501 when it is free, else any free port."""
    if wanted is not None:
        return wanted
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", DEFAULT_PORT))
            return DEFAULT_PORT
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


def start_dashboard(home: Home, *, port: int, timeout_s: float = 90.0) -> subprocess.Popen:
    """``raigov dashboard`` as a child process, once http://127.0.0.1:port/ answers
    (stopped again when it does not, or when the wait is interrupted)."""
    log_path = home.root / DASHBOARD_LOG
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "raigov.cli", "dashboard", "--home",
                                    str(home.root), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        if _answers(url, process, timeout_s=timeout_s):
            return process
    except BaseException:
        stop_dashboard(process)
        raise
    code = process.poll()
    stop_dashboard(process)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    raise DashboardStartError(DID_NOT_START.format(url=url, timeout=timeout_s, code=code,
                                                   log=log_path, tail=tail))


def _answers(url: str, process: subprocess.Popen, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


def stop_dashboard(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def demo_user(home: Home) -> tuple[str, str]:
    """Create (or reset) the demo admin with a new random password; return both."""
    from raigov.users import add_user, find_user, set_password

    password = secrets.token_urlsafe(12)
    if find_user(home, DEMO_USER) is None:
        add_user(home, DEMO_USER, role=DEMO_ROLE, password=password, actor="demo")
    else:
        set_password(home, DEMO_USER, password=password, actor="demo")
    return DEMO_USER, password


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_dashboard(home: Home, *, port: int | None, console: "Console") -> None:
    """Start the dashboard, print where and how to sign in, wait for Ctrl-C (or
    SIGTERM); the dashboard process stops with the demo."""
    chosen = pick_port(port)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    process = None
    try:
        process = start_dashboard(home, port=chosen)
        try:
            user, password = demo_user(home)
        except ImportError as exc:
            console.print(NO_USERS.format(error=exc, home=home.root))
            user, password = "(none)", "(none)"
        console.print(READY.format(url=f"http://127.0.0.1:{chosen}/", user=user,
                                   role=DEMO_ROLE, password=password, home=home.root))
        if process.wait() != 0:
            console.print(STOPPED.format(code=process.returncode, log=home.root / DASHBOARD_LOG))
    except KeyboardInterrupt:
        console.print("Stopping the dashboard.")
    finally:
        if process is not None:
            stop_dashboard(process)
        signal.signal(signal.SIGTERM, previous)
