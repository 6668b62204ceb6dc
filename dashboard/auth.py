"""Sign-in and sessions.

Two ways in. By default a person signs in with a name and password checked against
``raigov.users`` (argon2id); a failed attempt costs a delay that doubles with each
further failure for the same name or the same client address (``RAIGOV_LOGIN_DELAY_S``,
capped at ``RAIGOV_LOGIN_DELAY_MAX_S``), and attempts inside that delay are refused
unchecked. The counts live in the catalog (:mod:`raigov.sign_in_throttle`), so a
restart does not reset them.
When Streamlit's secrets hold an ``[auth]`` section (an OIDC provider), ``st.login``
replaces the form: the identity's e-mail must be verified (``email_verified``), come
from the configured issuer, and be a raigov user (added with
``raigov users add EMAIL --role ROLE --no-password``), whose role applies.

A session (either kind) ends on sign-out or after ``RAIGOV_SESSION_MINUTES`` without a
page run. The user is read from the catalog on every run, so a changed role or a
removed user takes effect at once; each page and each action checks the role again.
"""

from __future__ import annotations

import os
import time
from typing import Any

import streamlit as st

from raigov import sign_in_throttle
from raigov.dashboard import settings
from raigov.home import Home
from raigov.users import User, authenticate, find_user

SESSION_KEY = "raigov_session"
USER_KEY = "raigov_user"
NOTICE_KEY = "raigov_auth_notice"
OIDC_SEEN_KEY = "raigov_oidc_last_seen"
OIDC_ISSUER_ENV = "RAIGOV_OIDC_ISSUER"

SIGN_IN_TITLE = "Sign in to raigov"
SIGN_IN_HELP = "Ask an admin for an account: raigov users add NAME --role viewer"
BAD_CREDENTIALS = "Unknown name or wrong password."
TOO_MANY_ATTEMPTS = ("Too many failed sign-ins for this name or address: try again in "
                     "{seconds:.0f} s.")
SESSION_EXPIRED = "Your session expired after {minutes:g} idle minutes: sign in again."
SIGNED_OUT = "You are signed out."
OIDC_NO_ROLE = ("You are signed in as {email}, but that identity is not a raigov user. "
                "Ask an admin to run: raigov users add {email} --role viewer --no-password")
OIDC_PROMPT = "Sign in with your organisation's identity provider."
OIDC_NO_EMAIL = "The identity provider sent no e-mail address: raigov cannot tell who you are."
OIDC_UNVERIFIED = ("The identity provider has not verified the e-mail {email}: raigov "
                   "signs in verified addresses only.")
OIDC_WRONG_ISSUER = ("This identity comes from issuer {got}, not the configured {expected} "
                     "(RAIGOV_OIDC_ISSUER, or [auth] server_metadata_url).")


def oidc_configured() -> bool:
    """Whether Streamlit's secrets configure an OIDC provider (``[auth]``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def client_address() -> str | None:
    """The browser's address as Streamlit sees it (None without a browser)."""
    try:
        return st.context.ip_address
    except Exception:  # noqa: BLE001 - no script run context
        return None


def _delay_for(failures: int) -> float:
    if failures <= 0:
        return 0.0
    base, cap = settings.LOGIN_DELAY_S.read(), settings.LOGIN_DELAY_MAX_S.read()
    return min(base * 2 ** (failures - 1), cap)


def wait_left(home: Home, name: str, *, address: str | None = None,
              now: float | None = None) -> float:
    """Seconds before ``name`` (from ``address``) may try again (0 when it may): the
    longer of the name's and the address's delays, read from the catalog."""
    now = time.time() if now is None else now
    found = sign_in_throttle.failures(home, sign_in_throttle.subjects(name, address))
    return max([0.0, *(last + _delay_for(count) - now for count, last in found.values())])


def sign_in(home: Home, name: str, password: str, *,
            address: str | None = None) -> tuple[User | None, str | None]:
    """Check a name and password; returns (user, None) or (None, message)."""
    name = name.strip()
    keys = sign_in_throttle.subjects(name, address)
    left = wait_left(home, name, address=address)
    if left > 0:
        return None, TOO_MANY_ATTEMPTS.format(seconds=max(left, 1))
    user = authenticate(home, name, password) if name and password else None
    _record_sign_in(home, name, ok=user is not None)
    if user is None:
        time.sleep(_delay_for(sign_in_throttle.record_failure(home, keys)))
        return None, BAD_CREDENTIALS
    sign_in_throttle.clear(home, keys[:1])    # the name's count; the address's stays
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

def expected_issuer() -> str | None:
    """The issuer an OIDC identity must come from: ``RAIGOV_OIDC_ISSUER``, else the
    provider's discovery URL without ``/.well-known/openid-configuration``."""
    if os.environ.get(OIDC_ISSUER_ENV):
        return os.environ[OIDC_ISSUER_ENV].rstrip("/")
    try:
        config = st.secrets["auth"]
        url = config.get("server_metadata_url") or next(
            (v.get("server_metadata_url") for v in config.values() if hasattr(v, "get")), None)
    except Exception:  # noqa: BLE001 - no secrets
        return None
    return str(url).removesuffix("/.well-known/openid-configuration").rstrip("/") if url else None


def oidc_problem(claims: Any, *, issuer: str | None) -> str | None:
    """Why an OIDC identity may not sign in (None: it may): its e-mail must be
    verified and it must come from the configured issuer."""
    email = str(claims.get("email") or "")
    if not email:
        return OIDC_NO_EMAIL
    if claims.get("email_verified") is not True:
        return OIDC_UNVERIFIED.format(email=email)
    got = str(claims.get("iss") or "").rstrip("/")
    if issuer is None or got != issuer:
        return OIDC_WRONG_ISSUER.format(got=got or "none", expected=issuer or "not configured")
    return None


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
    if _idle_expired():
        st.logout()
        return None
    problem = oidc_problem(st.user, issuer=expected_issuer())
    if problem is not None:
        st.session_state[NOTICE_KEY] = problem
        return None
    email = str(st.user.get("email"))
    user = find_user(home, email)
    if user is None:
        st.session_state[NOTICE_KEY] = OIDC_NO_ROLE.format(email=email)
    return user


def _idle_expired() -> bool:
    """The OIDC session's idle clock (Streamlit's identity cookie alone never idles)."""
    minutes = settings.SESSION_MINUTES.read()
    now = time.time()
    last = st.session_state.get(OIDC_SEEN_KEY)
    st.session_state[OIDC_SEEN_KEY] = now
    if last is not None and now - float(last) > minutes * 60:
        st.session_state.pop(OIDC_SEEN_KEY, None)
        st.session_state[NOTICE_KEY] = SESSION_EXPIRED.format(minutes=minutes)
        return True
    return False


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
