"""Driving the real dashboard in headless Chromium: ``raigov dashboard`` as a process,
Debian's Chromium through Playwright (no browser download), and waits that know when
a Streamlit page has finished drawing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from raigov.home import Home

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1800}
DID_NOT_START = "raigov dashboard did not answer within {timeout:.0f} s. Its log:\n{log}"
# The app has finished its script run and every lazily loaded element has drawn.
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  return [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .every(c => c.querySelector('.main-svg'));
}"""


def raigov_command() -> list[str]:
    script = Path(sys.executable).parent / "raigov"
    return [str(script)] if script.exists() else [sys.executable, "-m", "raigov.cli"]


@dataclass
class DashboardProcess:
    """``raigov dashboard --home H --port P`` running until ``stop``."""

    home: Home
    port: int
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home.root / f"dashboard-{self.port}.log"

    def start(self, *, timeout_s: float = 90.0) -> "DashboardProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*raigov_command(), "dashboard", "--home", str(self.home.root),
                 "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **self.env}, cwd=self.home.root)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(DID_NOT_START.format(timeout=timeout_s,
                                                log=self.log_path.read_text()[-3000:]))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)

    def __enter__(self) -> "DashboardProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch(playwright):
    return playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                      args=CHROMIUM_ARGS)


def settle(page, *, timeout_ms: int = 90_000) -> None:
    """Wait until the page's script run is over and everything has drawn."""
    page.wait_for_timeout(250)
    page.wait_for_function(SETTLED_JS, timeout=timeout_ms)


def sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Fleet", exact=True).wait_for(timeout=90_000)
    settle(page)


def open_page(page, nav_label: str, heading: str) -> None:
    """Follow a sidebar link (a reload would start a new, signed-out session)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=nav_label).first.click()
    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=90_000)
    settle(page)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    settle(page)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def screenshot(page, directory: Path, name: str) -> Path:
    path = directory / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
