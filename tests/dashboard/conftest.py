"""Dashboard fixtures: the session's seeded home with one user per role, copied per
test, and AppTest runs of the real entry script signed in as one of them."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.ledger.chain import head

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PASSWORDS = {"ada": "admin-password-1", "olga": "owner-password-1",
             "vera": "viewer-password-1", "otto": "auditor-password-1"}
ROLES = {"ada": "admin", "olga": "owner", "vera": "viewer", "otto": "auditor"}
TIMEOUT_S = 120


def _seeded(request) -> Home:
    """The session's seeded home; with ``RAIGOV_TEST_SEEDED_CACHE=DIR`` (a developer's
    shortcut) a copy kept in DIR from an earlier session, made there on first use."""
    cache = os.environ.get("RAIGOV_TEST_SEEDED_CACHE")
    if cache and (Path(cache) / "catalog.duckdb").exists():
        return Home.resolve(cache)
    seeded: Home = request.getfixturevalue("seeded_home_template")
    if cache:
        shutil.copytree(seeded.root, cache, dirs_exist_ok=True)
    return seeded


@pytest.fixture(scope="session")
def dashboard_home_template(request, tmp_path_factory) -> Home:
    """The seeded home plus one user per role (hashing is slow: done once)."""
    from raigov.users import add_user

    target = tmp_path_factory.mktemp("dashboard") / "home"
    shutil.copytree(_seeded(request).root, target)
    home = Home.resolve(target)
    for name, role in ROLES.items():
        add_user(home, name, role=role, password=PASSWORDS[name], actor="test")
    return home


@pytest.fixture
def dashboard_home(dashboard_home_template: Home, tmp_path: Path, monkeypatch) -> Home:
    """A private copy, which the dashboard (``RAIGOV_HOME``) shows."""
    target = tmp_path / "dashboard-home"
    shutil.copytree(dashboard_home_template.root, target)
    monkeypatch.setenv("RAIGOV_HOME", str(target))
    monkeypatch.setenv("RAIGOV_LOGIN_DELAY_S", "0.05")
    return Home.resolve(target)


def ledger_count(home: Home) -> int:
    with catalog(home, read_only=True) as con:
        return head(con)[0]


def app_test():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)


@pytest.fixture
def signed_in(dashboard_home: Home) -> Callable[..., object]:
    """``signed_in("vera", page="alerts")``: an AppTest of the app with that user's
    session, run on that page."""
    def make(name: str, *, page: str | None = None):
        at = app_test()
        now = time.time()
        at.session_state["raigov_session"] = {"name": name, "signed_in_at": now,
                                              "last_seen": now}
        at.run()
        if page is not None:
            at.switch_page(f"app_pages/{page}.py").run()
        return at
    return make


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's package, through Playwright), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.dashboard.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def dialogs() -> list[str]:
    """Every alert/confirm/prompt any frame of the page opened (none may)."""
    return []


@pytest.fixture
def page(browser, dialogs: list[str]):
    """A fresh browser context's page; any dialog it opens is dismissed and recorded."""
    from tests.dashboard.browser import VIEWPORT

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()
