"""Sign-in hardening: throttling lives in the catalog (a dashboard killed mid-delay
and started again still refuses), per name and per address, in a bounded table; OIDC
identities need a verified e-mail from the configured issuer; a page checks its own
role, so a viewer who opens the Users page directly is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raigov import sign_in_throttle
from raigov.dashboard import auth
from raigov.home import Home
from raigov.store.catalog import catalog
from raigov.users import find_user
from tests.dashboard.conftest import PASSWORDS, app_test

ROOT = Path(__file__).resolve().parents[2]
FAIL_ONCE = ("import sys\nfrom raigov.dashboard import auth\nfrom raigov.home import Home\n"
             "auth.sign_in(Home.resolve(sys.argv[1]), 'vera', 'wrong-password', "
             "address='203.0.113.7')\n")


def _rows(home: Home) -> dict[str, int]:
    with catalog(home, read_only=True) as con:
        return dict(con.execute("SELECT subject, failures FROM sign_in_failures").fetchall())


def test_a_restart_does_not_reset_sign_in_throttling(dashboard_home: Home, monkeypatch) -> None:
    # A dashboard process fails a sign-in, then is killed during its delay (a crash or
    # a restart): the failure was already in the catalog.
    env = {**os.environ, "RAIGOV_LOGIN_DELAY_S": "60"}
    proc = subprocess.Popen([sys.executable, "-c", FAIL_ONCE, str(dashboard_home.root)],
                            cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while not _rows(dashboard_home) and time.monotonic() < deadline:
        assert proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _rows(dashboard_home) == {"name:vera": 1, "address:203.0.113.7": 1}
    # A fresh dashboard (this process, a new AppTest) refuses even the right password.
    monkeypatch.setenv("RAIGOV_LOGIN_DELAY_S", "60")
    at = app_test().run()
    at.text_input(key="sign_in_name").input("vera")
    at.text_input(key="sign_in_password").input(PASSWORDS["vera"])
    at.button[0].click().run()
    assert "Too many failed sign-ins" in at.error[0].value
    assert [t.value for t in at.title] == ["Sign in to raigov"]
    # The same address is refused for another name too.
    assert auth.wait_left(dashboard_home, "olga", address="203.0.113.7") > 0
    assert auth.wait_left(dashboard_home, "olga", address="198.51.100.1") == 0


def test_the_failure_table_stays_bounded(dashboard_home: Home, monkeypatch) -> None:
    monkeypatch.setattr(sign_in_throttle, "MAX_ROWS", 5)
    now = time.time()
    for i in range(12):
        sign_in_throttle.record_failure(dashboard_home, [f"name:n{i}"], now=now + i)
    sign_in_throttle.record_failure(dashboard_home, ["name:old"],
                                    now=now + 20 + sign_in_throttle.FORGET_AFTER_S)
    rows = _rows(dashboard_home)
    assert set(rows) == {"name:old"}                # a day later the rest are forgotten
    for i in range(8):
        sign_in_throttle.record_failure(dashboard_home, [f"name:m{i}"],
                                        now=now + 30 + sign_in_throttle.FORGET_AFTER_S + i)
    assert set(_rows(dashboard_home)) == {f"name:m{i}" for i in range(3, 8)}


def test_a_viewer_opening_the_users_page_directly_is_refused(dashboard_home: Home) -> None:
    from streamlit.testing.v1 import AppTest

    page = AppTest.from_file(str(ROOT / "dashboard" / "app_pages" / "users.py"),
                             default_timeout=60)
    page.session_state[auth.USER_KEY] = find_user(dashboard_home, "vera")
    page.run()
    assert [e.value for e in page.error] == [
        "vera (role viewer) may not open this page: it needs the 'users.manage' permission."]
    assert not page.dataframe and not page.title         # nothing of the page drew
    page.session_state[auth.USER_KEY] = find_user(dashboard_home, "ada")
    page.run()
    assert not page.error and [t.value for t in page.title] == ["Users"]


@pytest.mark.parametrize(("claims", "problem"), [
    ({"email": "a@x.org", "email_verified": True, "iss": "https://idp.x.org"}, None),
    ({"email": "a@x.org", "email_verified": True, "iss": "https://idp.x.org/"}, None),
    ({"email": "a@x.org", "email_verified": False, "iss": "https://idp.x.org"},
     "has not verified the e-mail a@x.org"),
    ({"email": "a@x.org", "iss": "https://idp.x.org"}, "has not verified"),
    ({"email": "a@x.org", "email_verified": "true", "iss": "https://idp.x.org"},
     "has not verified"),
    ({"email": "a@x.org", "email_verified": True, "iss": "https://evil.example"},
     "comes from issuer https://evil.example, not the configured https://idp.x.org"),
    ({"email_verified": True, "iss": "https://idp.x.org"}, "sent no e-mail"),
])
def test_an_oidc_identity_needs_a_verified_email_from_the_bound_issuer(claims, problem) -> None:
    found = auth.oidc_problem(claims, issuer="https://idp.x.org")
    assert found is None if problem is None else problem in found
