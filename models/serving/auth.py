"""Who may call ``raigov serve``: the caller behind a request's ``Authorization: Bearer
TOKEN``, and what each route needs of it.

After authentication every request has ``request.state.caller`` (a :class:`Caller`);
code that runs with authentication off reads it as
``getattr(request.state, "caller", NO_AUTH_CALLER)``. Keys come from the home's key
snapshot (:mod:`raigov.keys`), reread when it changes, which the home's change counter
shows (a memory read per request, no system call), so a key revoked or made while the
server runs counts from the next request; an expired key is refused by the clock at
request time.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from raigov.change_counter import CounterMap
from raigov.keys import SCOPES, ApiKey, parse_token, read_snapshot

if TYPE_CHECKING:
    from raigov.home import Home

__all__ = ["SCOPES", "Caller", "NO_AUTH_CALLER", "Refusal", "KeyWatcher", "authenticate",
           "required_access", "authorise"]

MISSING_TOKEN = ("this route needs an API key: send 'Authorization: Bearer <token>' "
                 "(make one with raigov keys create)")
MALFORMED_TOKEN = ("the Authorization header must be 'Bearer rgk_<key_id>_<secret>', "
                   "as raigov keys create prints it")
UNKNOWN_TOKEN = "the API key is not known here (a mistyped token, or one from another home)"
REVOKED_TOKEN = "API key '{name}' was revoked at {at}"
EXPIRED_TOKEN = "API key '{name}' expired at {at}"
MISSING_SCOPE = ("API key '{name}' lacks scope '{scope}', which {route} needs "
                 "(its scopes: {scopes})")
OTHER_MODEL = ("API key '{name}' may not use model '{model}' (it is bound to: {models})")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the key's name, scopes and models (None: every model)."""

    key: str
    scopes: frozenset[str]
    models: frozenset[str] | None
    rate_per_s: float | None = None     # None: unlimited

    def may(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def may_model(self, name: str) -> bool:
        return self.models is None or name in self.models


NO_AUTH_CALLER = Caller("no-auth", frozenset(SCOPES), None)


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: 401 (who are you?) or 403 (not you, not this)."""

    status: int
    reason: str          # the metrics label: missing malformed unknown revoked expired scope model
    message: str


def _caller(key: ApiKey) -> Caller:
    return Caller(key.name, frozenset(key.scopes),
                  None if key.models is None else frozenset(key.models), key.rate_per_s)


class KeyWatcher:
    """The key snapshot of one home, reloaded when its file changes.

    With ``changes`` (the home's change counter, :mod:`raigov.change_counter`) a
    request costs a memory read: the snapshot's ``stat`` runs only when the counter
    moved, and once a second in any case (a snapshot written without a bump, or a
    counter file replaced). Without it, or while the counter cannot be mapped, every
    lookup ``stat``s the snapshot."""

    RECHECK_S = 1.0

    def __init__(self, path: Path, *, changes: Path | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self._clock = path, clock
        self._seen: tuple[int, int, int] | None | bool = False   # False: never read
        self._keys: dict[str, tuple[ApiKey, Caller]] = {}
        self._counter = CounterMap(changes) if changes is not None else None
        self._mark: bytes | None = None
        self._recheck_at = 0.0

    def lookup(self, key_id: str) -> tuple[ApiKey, Caller] | None:
        if self._may_have_changed():
            self._reload_if_changed()
        return self._keys.get(key_id)

    def _may_have_changed(self) -> bool:
        now = self._clock()
        if now >= self._recheck_at:
            self._recheck_at = now + self.RECHECK_S
            if self._counter is not None:
                self._counter.remap()
            self._mark = self._counter.read() if self._counter is not None else None
            return True
        mark = self._counter.read() if self._counter is not None else None
        if mark is None or mark != self._mark:
            self._mark = mark
            return True
        return False

    def _reload_if_changed(self) -> None:
        try:
            st = os.stat(self.path)
            seen: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            self._keys = {k: (key, _caller(key)) for k, key in read_snapshot(self.path).items()}
            self._seen = seen


def authenticate(header: str | None, watcher: KeyWatcher,
                 now: dt.datetime | None = None) -> Caller | Refusal:
    """The caller a ``Authorization`` header names, or the 401 refusing it."""
    if not header:
        return Refusal(401, "missing", MISSING_TOKEN)
    scheme, _, token = header.strip().partition(" ")
    parts = parse_token(token.strip()) if scheme.lower() == "bearer" else None
    if parts is None:
        return Refusal(401, "malformed", MALFORMED_TOKEN)
    found = watcher.lookup(parts[0])
    if found is None or not found[0].secret_matches(parts[1]):
        return Refusal(401, "unknown", UNKNOWN_TOKEN)
    key, caller = found
    if key.revoked_at is not None:
        return Refusal(401, "revoked", REVOKED_TOKEN.format(name=key.name, at=key.revoked_at.isoformat()))
    if key.expires_at is not None and key.expires_at <= (now or dt.datetime.now(dt.timezone.utc)):
        return Refusal(401, "expired", EXPIRED_TOKEN.format(name=key.name, at=key.expires_at.isoformat()))
    return caller


OPEN_PATHS = frozenset({"/healthz"})
_MODEL_ROUTE = re.compile(r"^/v1/models/([^/]+)/(predict|log|events|feedback)$")
_ROUTE_SCOPE = {"predict": "predict", "log": "log", "events": "log", "feedback": "feedback"}
_PATH_SCOPE = {"/metrics": "metrics", "/v1/events": "log"}


@dataclass(frozen=True)
class Access:
    """What a route needs: nothing (open), any valid key (scope None), or a scope and,
    for a model's route, that model."""

    open: bool = False
    scope: str | None = None
    model: str | None = None


def required_access(path: str, headers: Mapping[str, str]) -> Access:
    """The access a route needs; unknown routes need a valid key (they answer 404 only
    to callers who have one)."""
    model = headers.get("ce-inferenceservicename") if path == "/v1/events" else None
    if len(path) > _CACHED_PATH_CHARS or (model and len(model) > _CACHED_PATH_CHARS):
        return _access.__wrapped__(path, model or None)   # a caller's long path: not kept
    return _access(path, model or None)


_CACHED_PATH_CHARS = 256


@functools.lru_cache(maxsize=1024)   # a pure function of its arguments, asked per request
def _access(path: str, model: str | None) -> Access:
    if path in OPEN_PATHS:
        return Access(open=True)
    match = _MODEL_ROUTE.match(path)
    if match:
        return Access(scope=_ROUTE_SCOPE[match.group(2)], model=match.group(1))
    return Access(scope=_PATH_SCOPE.get(path), model=model)


def authorise(caller: Caller, access: Access, route: str) -> Refusal | None:
    """None when ``caller`` may use the route, else the 403 naming the missing scope or
    model."""
    if access.scope is not None and not caller.may(access.scope):
        return Refusal(403, "scope", MISSING_SCOPE.format(
            name=caller.key, scope=access.scope, route=route, scopes=", ".join(sorted(caller.scopes))))
    if access.model is not None and not caller.may_model(access.model):
        return Refusal(403, "model", OTHER_MODEL.format(
            name=caller.key, model=access.model, models=", ".join(sorted(caller.models or ()))))
    return None


LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
NO_ACTIVE_KEY = ("raigov serve needs an API key and the home {root} has no active one "
                 "(none made, or all revoked or expired). Make one with 'raigov keys create "
                 "NAME --scope predict', or pass --no-auth on a loopback --host to serve "
                 "without keys.")
NO_AUTH_NOT_LOOPBACK = ("--no-auth serves every route to anyone who can connect, so it is "
                        "accepted only on a loopback --host ({allowed}); got --host {host}.")
NO_AUTH_WARNING = ("warning: --no-auth: no API keys are checked; every route is open to "
                   "anyone who can connect to {host}:{port}, and captured rows record the "
                   "key 'no-auth'.")


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_serving_access(home: "Home", *, host: str, auth: bool) -> None:
    """Before ``raigov serve`` starts: with keys, the home must hold an active one (the
    key snapshot is rewritten from the catalog here, read at start only); without,
    the host must be a loopback address."""
    from raigov.errors import ConfigError
    from raigov.keys import publish_keys

    if not auth:
        if not is_loopback(host):
            raise ConfigError(NO_AUTH_NOT_LOOPBACK.format(allowed=", ".join(LOOPBACK_NAMES),
                                                          host=host))
        return
    if not any(key.active() for key in publish_keys(home)):
        raise ConfigError(NO_ACTIVE_KEY.format(root=home.root))
