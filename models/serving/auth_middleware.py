"""The gate in front of every route of ``raigov serve`` (an ASGI middleware, so a refused
request costs no routing, body read or validation): authenticate the bearer token,
apply the key's rate limit, check the route's scope and model, then hand the request on
with ``request.state.caller`` set. Refusals are JSON ``{"detail": ...}`` like every other
error: 401 with ``WWW-Authenticate: Bearer``, 403 naming the missing scope or model, 429
with ``Retry-After``."""

from __future__ import annotations

from typing import Any

import orjson

from raigov.errors import RaigovError
from raigov.models.serving.auth import (OPEN_PATHS, Caller, KeyWatcher, Refusal, authenticate,
                                        authorise, required_access)
from raigov.models.serving.rate_limit import RATE_LIMITED, RateLimiter
from raigov.models.serving.telemetry import ServeMetrics

REALM = 'Bearer realm="raigov"'
_WANTED = (b"authorization", b"ce-inferenceservicename")


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    """The two headers the gate reads (ASGI gives names in lower case)."""
    out = {}
    for name, value in scope.get("headers", ()):
        if name in _WANTED:
            out[name.decode("latin-1")] = value.decode("latin-1")
    return out


def _challenge(refusal: Refusal) -> str:
    if refusal.reason == "missing":
        return REALM
    if refusal.status == 403:
        return f'{REALM}, error="insufficient_scope"'
    return f'{REALM}, error="invalid_token"'


class AuthMiddleware:
    def __init__(self, app: Any, *, watcher: KeyWatcher, metrics: ServeMetrics,
                 limiter: RateLimiter | None = None, key_use: Any = None) -> None:
        self.app, self.watcher, self.metrics = app, watcher, metrics
        self.key_use = key_use      # a KeyUseLog: key.used ledger events (rate-limited)
        self.limiter = limiter or RateLimiter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        outcome = self._check(scope, headers)
        if isinstance(outcome, Caller):
            scope.setdefault("state", {})["caller"] = outcome
            return await self.app(scope, receive, send)
        status, reason, message, extra = outcome
        if status == 429:
            self.metrics.rate_limited.labels(reason).inc()
        else:
            self.metrics.auth_failures.labels(reason).inc()
        await _respond(send, status, message, extra)

    def _check(self, scope: dict[str, Any], headers: dict[str, str]) -> Caller | tuple:
        try:
            caller = authenticate(headers.get("authorization"), self.watcher)
        except RaigovError as exc:        # an unreadable snapshot: refuse everyone
            return 503, "snapshot", str(exc), {}
        if isinstance(caller, Refusal):
            return caller.status, caller.reason, caller.message, {"www-authenticate": _challenge(caller)}
        retry = self.limiter.retry_after(caller.key, caller.rate_per_s)
        if retry is not None:
            return 429, caller.key, RATE_LIMITED.format(name=caller.key, rate=caller.rate_per_s,
                                                        retry=retry), {"retry-after": str(retry)}
        path = scope["path"]
        refusal = authorise(caller, required_access(path, headers), f"{scope['method']} {path}")
        if refusal is not None:
            return refusal.status, refusal.reason, refusal.message, {"www-authenticate": _challenge(refusal)}
        if self.key_use is not None:
            self.key_use.used(caller.key, f"{scope['method']} {path}")
        return caller


async def _respond(send: Any, status: int, message: str, extra: dict[str, str]) -> None:
    body = orjson.dumps({"detail": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *((k.encode(), v.encode("latin-1")) for k, v in extra.items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
