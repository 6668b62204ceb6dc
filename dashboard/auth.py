"""Sign-in and sessions.

Two ways in. By default a person signs in with a name and password checked against
``raigov.users`` (argon2id); a failed attempt costs a delay that doubles with each
further failure for the same name (``RAIGOV_LOGIN_DELAY_S``, capped at
``RAIGOV_LOGIN_DELAY_MAX_S``), and attempts inside that delay are refused unchecked.
When Streamlit's secrets hold an ``[auth]`` section (an OIDC provider), ``st.login``
replaces the form: the identity's e-mail must be a raigov user (added with
``raigov users add EMAIL --role ROLE --no-password``), whose role applies.

A session ends on sign-out or after ``RAIGOV_SESSION_MINUTES`` without a page run.
The user is read from the catalog on every run, so a changed role or a removed user
takes effect at once; actions check the role again where they run.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import streamlit as st

from raigov.dashboard import settings
from raigov.home import Home
from raigov.users import User, authenticate, find_user

SESSION_KEY = "raigov_session"
USER_KEY = "raigov_user"
NOTICE_KEY = "raigov_auth_notice"

SIGN_IN_TITLE = "Sign in to raigov"
SIGN_IN_HELP = "Ask an admin for an account: raigov users add NAME --role viewer"
BAD_CREDENTIALS = "Unknown name or wrong password."
TOO_MANY_ATTEMPTS = ("Too many failed sign-ins for this name: try again in {seconds:.0f} s.")
SESSION_EXPIRED = "Your session expired after {minutes:g} idle minutes: sign in again."
SIGNED_OUT = "You are signed out."
OIDC_NO_ROLE = ("You are signed in as {email}, but that identity is not a raigov user. "
                "Ask an admin to run: raigov users add {email} --role viewer --no-password")
OIDC_PROMPT = "Sign in with your organisation's identity provider."

_failures: dict[str, tuple[int, float]] = {}   # name -> (failures, last failure time)
_failures_lock = threading.Lock()


def oidc_configured() -> bool:
    """Whether Streamlit's secrets configure an OIDC provider (``[auth]``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def _delay_for(failures: int) -> float:
    if failures <= 0:
        return 0.0
    base, cap = settings.LOGIN_DELAY_S.read(), settings.LOGIN_DELAY_MAX_S.read()
    return min(base * 2 ** (failures - 1), cap)


def wait_left(name: str, *, now: float | None = None) -> float:
    """Seconds before ``name`` may try again (0 when it may)."""
    with _failures_lock:
        count, last = _failures.get(name.casefold(), (0, 0.0))
    return max(0.0, last + _delay_for(count) - (now or time.monotonic()))


def _record_failure(name: str) -> float:
    with _failures_lock:
        count, _ = _failures.get(name.casefold(), (0, 0.0))
        _failures[name.casefold()] = (count + 1, time.monotonic())
    return _delay_for(count + 1)


def sign_in(home: Home, name: str, password: str) -> tuple[User | None, str | None]:
    """Check a name and password; returns (user, None) or (None, message)."""
    name = name.strip()
    left = wait_left(name)
    if left > 0:
        return None, TOO_MANY_ATTEMPTS.format(seconds=max(left, 1))
    user = authenticate(home, name, password) if name and password else None
    _record_sign_in(home, name, ok=user is not None)
    if user is None:
        time.sleep(_record_failure(name))
        return None, BAD_CREDENTIALS
    with _failures_lock:
        _failures.pop(name.casefold(), None)
    start_session(user)
    return user, None


def _record_sign_in(home: Home, name: str, *, ok: bool) -> None:
    """``auth.signed_in`` / ``auth.sign_in_failed`` ledger events (the name as typed,
    capped; never the password). A failure to record never blocks the sign-in page."""
    from raigov.errors import RaigovError
    from raigov.ledger.chain import append_event
    from raigov.store.catalog import catalog

    kind = "auth.signed_in" if ok else "auth.sign_in_failed"
    shown = name[:64]
    try:
        with catalog(home) as con:
            append_event(con, kind, actor=shown if ok else "anonymous",
                         subject=f"user:{shown}", payload={"name": shown, "method": "password"})
    except (OSError, RaigovError):
        pass


def start_session(user: User) -> None:
    now = time.time()
    st.session_state[SESSION_KEY] = {"name": user.name, "signed_in_at": now, "last_seen": now}


def sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(USER_KEY, None)
    st.session_state[NOTICE_KEY] = SIGNED_OUT
    if oidc_configured():
        st.logout()


def _session_user(home: Home) -> User | None:
    session: dict[str, Any] | None = st.session_state.get(SESSION_KEY)
    if not session:
        return None
    minutes = settings.SESSION_MINUTES.read()
    now = time.time()
    if now - float(session["last_seen"]) > minutes * 60:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[NOTICE_KEY] = SESSION_EXPIRED.format(minutes=minutes)
        return None
    session["last_seen"] = now
    user = find_user(home, session["name"])
    if user is None:   # removed since signing in
        st.session_state.pop(SESSION_KEY, None)
    return user


def _oidc_user(home: Home) -> User | None:
    if not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or "")
    user = find_user(home, email) if email else None
    if user is None:
        st.session_state[NOTICE_KEY] = OIDC_NO_ROLE.format(email=email or "?")
    return user


def current_user(home: Home) -> User | None:
    """The signed-in user for this run (also kept for the pages), or None."""
    user = _oidc_user(home) if oidc_configured() else _session_user(home)
    if user is None:
        st.session_state.pop(USER_KEY, None)
    else:
        st.session_state[USER_KEY] = user
    return user


def user() -> User | None:
    """The user ``app.py`` found for this run (pages call this)."""
    return st.session_state.get(USER_KEY)


def take_notice() -> str | None:
    return st.session_state.pop(NOTICE_KEY, None)
