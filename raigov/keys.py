"""API keys for ``raigov serve``: named, scoped, optionally bound to models, expiring and
rate-limited; kept in the catalog as the SHA-256 of their secret, never the token.

A token reads ``rgk_<key_id>_<secret>``: ``key_id`` (12 hex digits) finds the record,
``secret`` (``secrets.token_urlsafe(32)``) is shown once, when the key is created, and
only its SHA-256 is stored. Every change is a ledger event (``keys.created``,
``keys.revoked``) holding no secret and no hash.

Serving never waits for the catalog, so after each change the key records (hashes,
never tokens) are written to a snapshot file in the home (:attr:`Home.api_keys_path`),
durably, under a lock that serialises the changes and their snapshots, and then a
change counter (:attr:`Home.api_keys_changes_path`) is bumped; a running server maps the
counter into memory and rereads the snapshot when it moves (a memory read per request,
no system call), so a revoked key stops working at its next request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raigov.canonical import iso_utc, utcnow
from raigov.change_counter import bump_counter
from raigov.durable import exclusive_lock, write_durably
from raigov.errors import ConfigError, InputError, NotFoundError, did_you_mean
from raigov.home import Home
from raigov.ledger.chain import append_event
from raigov.store.catalog import catalog

SCOPES: tuple[str, ...] = ("predict", "feedback", "log", "backfill", "metrics", "admin")
TOKEN_PREFIX = "rgk_"
SNAPSHOT_VERSION = 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

BAD_NAME = ("API key name {name!r} is not allowed: use 1 to 64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit.")
NO_SCOPE = "API key '{name}' needs at least one --scope; allowed: {allowed}."
UNKNOWN_SCOPE = "Unknown scope '{scope}' for API key '{name}'. Allowed: {allowed}.{hint}"
UNKNOWN_MODEL = ("API key '{name}' names model '{model}', which is not registered "
                 "(registered: {registered}).{hint}")
KEY_EXISTS = "An API key named '{name}' already exists (created {created}{revoked}); choose another name."
UNKNOWN_KEY = "No API key named '{name}'.{hint}"
ALREADY_REVOKED = "API key '{name}' was already revoked at {at}."
BAD_RATE = ("--rate {value!r} is not a rate: give requests per second as N/s or N, "
            "a number above 0 (for example 20/s).")
BAD_EXPIRY = ("--expires {value!r} is not an ISO 8601 date or time (for example "
              "2027-01-31 or 2027-01-31T12:00:00Z).")
EXPIRY_PAST = ("--expires {value!r} ({at}) is not in the future; a key must expire "
               "after it is made.")
BAD_SNAPSHOT = "The API key snapshot {path} cannot be read: {error}"


@dataclass(frozen=True)
class ApiKey:
    name: str
    key_id: str
    secret_sha256: str
    scopes: tuple[str, ...]
    models: tuple[str, ...] | None      # None: every model
    expires_at: dt.datetime | None
    rate_per_s: float | None
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None = None

    def active(self, now: dt.datetime | None = None) -> bool:
        """Neither revoked nor expired at ``now``."""
        moment = now or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)

    def secret_matches(self, secret: str) -> bool:
        """Constant-time comparison of the secret's SHA-256 with the stored one."""
        return hmac.compare_digest(_sha256(secret), self.secret_sha256)

    def describe(self) -> dict[str, Any]:
        """What ``raigov keys list`` shows: everything but the hash."""
        return {"name": self.name, "key_id": self.key_id, "scopes": list(self.scopes),
                "models": None if self.models is None else list(self.models),
                "expires_at": _iso(self.expires_at), "rate_per_s": self.rate_per_s,
                "created_at": _iso(self.created_at), "created_by": self.created_by,
                "revoked_at": _iso(self.revoked_at),
                "status": "revoked" if self.revoked_at else
                          "expired" if not self.active() else "active"}

    def snapshot_entry(self) -> dict[str, Any]:
        """What serving processes read: the record with its hash (status is theirs to
        judge, by the clock, at each request)."""
        entry = {**self.describe(), "secret_sha256": self.secret_sha256}
        del entry["status"]
        return entry


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str    # shown once; nowhere stored


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    key_id, sep, secret = token[len(TOKEN_PREFIX):].partition("_")
    return (key_id, secret) if sep and key_id and secret else None


def parse_rate(text: str) -> float:
    """``"20/s"`` or ``"20"`` as requests per second."""
    value = text.strip().removesuffix("/s").strip()
    try:
        rate = float(value)
    except ValueError:
        raise InputError(BAD_RATE.format(value=text)) from None
    if not rate > 0 or rate == float("inf"):
        raise InputError(BAD_RATE.format(value=text))
    return rate


def parse_expiry(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 date (its 00:00 UTC) or date-time (naive: UTC), in the future."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(BAD_EXPIRY.format(value=text)) from None
    moment = moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment
    moment = moment.astimezone(dt.timezone.utc)
    if moment <= (now or utcnow()):
        raise InputError(EXPIRY_PAST.format(value=text, at=iso_utc(moment)))
    return moment


_COLUMNS = ("name, key_id, secret_sha256, scopes, models, expires_at, rate_per_s, "
            "created_at, created_by, revoked_at")


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.timezone.utc)


def _from_row(row: tuple) -> ApiKey:
    name, key_id, digest, scopes, models, expires, rate, created, by, revoked = row
    return ApiKey(name, key_id, digest, tuple(scopes), None if models is None else tuple(models),
                  _utc(expires), rate, _utc(created), by, _utc(revoked))


def _check_scopes(name: str, scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not scopes:
        raise ConfigError(NO_SCOPE.format(name=name, allowed=", ".join(SCOPES)))
    for scope in scopes:
        if scope not in SCOPES:
            raise ConfigError(UNKNOWN_SCOPE.format(scope=scope, name=name, allowed=", ".join(SCOPES),
                                                   hint=did_you_mean(scope, SCOPES)))
    return tuple(s for s in SCOPES if s in scopes)


def _check_models(con, name: str, models: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if not models:
        return None
    registered = sorted(r[0] for r in con.execute("SELECT DISTINCT name FROM models").fetchall())
    for model in models:
        if model not in registered:
            raise NotFoundError(UNKNOWN_MODEL.format(name=name, model=model,
                                                     registered=", ".join(registered) or "none",
                                                     hint=did_you_mean(model, registered)))
    return tuple(sorted(set(models)))


def create_key(home: Home, name: str, *, scopes: list[str] | tuple[str, ...],
               models: list[str] | tuple[str, ...] | None = None,
               expires_at: dt.datetime | None = None, rate_per_s: float | None = None,
               actor: str = "cli") -> NewKey:
    """Make a key; the returned token is the only copy of its secret."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InputError(BAD_NAME.format(name=name))
    chosen = _check_scopes(name, scopes)
    secret, key_id = secrets.token_urlsafe(32), secrets.token_hex(6)
    with exclusive_lock(home.ensure().api_keys_lock):
        with catalog(home) as con:
            bound = _check_models(con, name, models)
            existing = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE name = ?", [name]).fetchone()
            if existing is not None:
                old = _from_row(existing)
                revoked = f", revoked {_iso(old.revoked_at)}" if old.revoked_at else ""
                raise InputError(KEY_EXISTS.format(name=name, created=_iso(old.created_at),
                                                   revoked=revoked))
            now = utcnow()
            key = ApiKey(name, key_id, _sha256(secret), chosen, bound, expires_at, rate_per_s,
                         now, actor)
            con.execute(f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        [name, key_id, key.secret_sha256, list(chosen),
                         None if bound is None else list(bound), expires_at, rate_per_s, now, actor])
            append_event(con, "keys.created", actor=actor, subject=f"key:{name}",
                         payload={k: v for k, v in key.describe().items()
                                  if k not in ("status", "revoked_at", "created_at")})
        _publish(home)
    return NewKey(key, f"{TOKEN_PREFIX}{key_id}_{secret}")


def revoke_key(home: Home, name: str, *, actor: str = "cli") -> ApiKey:
    """Revoke a key: running servers refuse it from their next request on."""
    with exclusive_lock(home.ensure().api_keys_lock):
        with catalog(home) as con:
            row = con.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE name = ?", [name]).fetchone()
            if row is None:
                names = [r[0] for r in con.execute("SELECT name FROM api_keys").fetchall()]
                raise NotFoundError(UNKNOWN_KEY.format(name=name, hint=did_you_mean(name, names)))
            key = _from_row(row)
            if key.revoked_at is not None:
                raise InputError(ALREADY_REVOKED.format(name=name, at=_iso(key.revoked_at)))
            now = utcnow()
            con.execute("UPDATE api_keys SET revoked_at = ? WHERE name = ?", [now, name])
            append_event(con, "keys.revoked", actor=actor, subject=f"key:{name}",
                         payload={"name": name, "key_id": key.key_id})
        _publish(home)
    return dataclasses.replace(key, revoked_at=now)


def list_keys(home: Home) -> list[ApiKey]:
    with catalog(home, read_only=True) as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY name").fetchall()
    return [_from_row(r) for r in rows]


def publish_keys(home: Home) -> list[ApiKey]:
    """Rewrite the snapshot from the catalog (``raigov serve`` does this as it starts,
    so a snapshot lost or left by an older raigov is made whole); return the keys."""
    with exclusive_lock(home.ensure().api_keys_lock):
        return _publish(home)


def _publish(home: Home) -> list[ApiKey]:
    keys = list_keys(home)
    body = {"version": SNAPSHOT_VERSION, "keys": [k.snapshot_entry() for k in keys]}
    write_durably(home.api_keys_path, json.dumps(body, indent=1, sort_keys=True).encode())
    bump_counter(home.api_keys_changes_path)   # after the snapshot: servers reread it
    return keys


def read_snapshot(path: Path) -> dict[str, ApiKey]:
    """The snapshot's keys by ``key_id`` (empty when the file is absent)."""
    try:
        body = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(BAD_SNAPSHOT.format(path=path, error=exc)) from exc
    out = {}
    for entry in body.get("keys", []):
        key = ApiKey(entry["name"], entry["key_id"], entry["secret_sha256"], tuple(entry["scopes"]),
                     None if entry["models"] is None else tuple(entry["models"]),
                     _parse(entry["expires_at"]), entry["rate_per_s"], _parse(entry["created_at"]),
                     entry["created_by"], _parse(entry["revoked_at"]))
        out[key.key_id] = key
    return out


def _parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)
