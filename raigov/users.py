"""Dashboard users: names, roles and argon2id password hashes in the catalog.

Roles grant permissions (:data:`PERMISSIONS`): ``viewer`` reads, ``auditor`` reads and
exports cards and reports, ``owner`` also acknowledges and resolves alerts and
disables or enables models (the kill switch), ``admin`` may do everything, managing
users and waivers included. :func:`require_permission` is what every action calls
where it runs; hiding a button is a courtesy, not the check.

Every change to a user (added, role changed, password changed, removed) is a ledger
event written in the same catalog unit of work as the change. A user without a
password hash signs in only through the OIDC provider configured for the dashboard
(``st.login``); the name is then the identity's e-mail address.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import duckdb

from raigov.store.catalog import catalog
from raigov.errors import ConfigError, InputError, NotFoundError, RaigovError, did_you_mean
from raigov.home import Home
from raigov.ledger.chain import append_event

if TYPE_CHECKING:
    from argon2 import PasswordHasher

Role = Literal["viewer", "owner", "auditor", "admin"]
Permission = Literal["read", "export", "alert.acknowledge", "alert.resolve", "model.toggle",
                     "users.manage", "waivers.manage", "sensitive.read"]
ROLES: tuple[str, ...] = get_args(Role)
ALL_PERMISSIONS: frozenset[str] = frozenset(get_args(Permission))

PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "auditor": frozenset({"read", "export"}),
    "owner": frozenset({"read", "alert.acknowledge", "alert.resolve", "model.toggle",
                        "sensitive.read"}),
    "admin": ALL_PERMISSIONS,
}

MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 200

UNKNOWN_ROLE = "Unknown role '{role}'. Allowed: {allowed}.{hint}"
UNKNOWN_PERMISSION = "Unknown permission '{permission}'. Allowed: {allowed}.{hint}"
BAD_NAME = ("User name {name!r} is not allowed: use 1 to {max} characters, no leading or "
            "trailing spaces and no control characters.")
SHORT_PASSWORD = "The password for '{name}' is too short: use at least {min} characters."
USER_EXISTS = "A user named '{name}' already exists (role {role})."
UNKNOWN_USER = "No user named '{name}'.{hint}"
NOT_SIGNED_IN = "Sign in first: {action} needs the '{permission}' permission."
PERMISSION_DENIED = ("{name} (role {role}) may not {action}: it needs the '{permission}' "
                     "permission, which the roles {roles} have.")
LAST_ADMIN = "Cannot {what} '{name}': it is the last admin, and someone must manage users."

# What a permission lets a person do, in words (for messages and the README).
ACTIONS: dict[str, str] = {
    "read": "read the dashboard",
    "export": "export model cards and reports",
    "alert.acknowledge": "acknowledge alerts",
    "alert.resolve": "resolve alerts",
    "model.toggle": "disable or enable models",
    "users.manage": "manage users",
    "waivers.manage": "manage waivers",
    "sensitive.read": "reveal sensitive values and pseudonymised identifiers",
}


class AccessDeniedError(RaigovError):
    """The user's role does not grant the permission an action needs."""

    exit_code = 1


@dataclass(frozen=True)
class User:
    name: str
    role: str
    has_password: bool
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime

    @property
    def permissions(self) -> frozenset[str]:
        return PERMISSIONS.get(self.role, frozenset())

    def can(self, permission: str) -> bool:
        return permission in self.permissions


_COLUMNS = "name, role, password_hash IS NOT NULL, created_at, created_by, updated_at"


def _hasher() -> "PasswordHasher":
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(UNKNOWN_ROLE.format(role=role, allowed=", ".join(ROLES),
                                              hint=did_you_mean(role, ROLES)))
    return role


def _check_name(name: str) -> str:
    ok = (isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH and name == name.strip()
          and all(ch.isprintable() for ch in name))
    if not ok:
        raise InputError(BAD_NAME.format(name=name, max=MAX_NAME_LENGTH))
    return name


def _password_hash(name: str, password: str | None) -> str | None:
    if password is None:
        return None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(SHORT_PASSWORD.format(name=name, min=MIN_PASSWORD_LENGTH))
    return _hasher().hash(password)


def _row(con: duckdb.DuckDBPyConnection, name: str) -> User | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", [name]).fetchone()
    return None if row is None else User(*row)


def _require_row(con: duckdb.DuckDBPyConnection, name: str) -> User:
    user = _row(con, name)
    if user is None:
        names = [r[0] for r in con.execute("SELECT name FROM users").fetchall()]
        raise NotFoundError(UNKNOWN_USER.format(name=name, hint=did_you_mean(name, names)))
    return user


def add_user(home: Home, name: str, *, role: str, password: str | None,
             actor: str = "cli") -> None:
    """Add a user. ``password=None``: the user signs in only through OIDC."""
    _check_name(name)
    check_role(role)
    digest = _password_hash(name, password)
    with catalog(home) as con:
        existing = _row(con, name)
        if existing is not None:
            raise InputError(USER_EXISTS.format(name=name, role=existing.role))
        con.execute("INSERT INTO users VALUES (?, ?, ?, now(), ?, now())",
                    [name, role, digest, actor])
        append_event(con, "user.added", actor=actor, subject=f"user:{name}",
                     payload={"name": name, "role": role, "password": digest is not None})


def set_role(home: Home, name: str, *, role: str, actor: str) -> None:
    """Change a user's role (the last admin keeps theirs)."""
    check_role(role)
    with catalog(home) as con:
        user = _require_row(con, name)
        if user.role == "admin" and role != "admin":
            _refuse_last_admin(con, name, what="change the role of")
        con.execute("UPDATE users SET role = ?, updated_at = now() WHERE name = ?", [role, name])
        append_event(con, "user.role_changed", actor=actor, subject=f"user:{name}",
                     payload={"name": name, "from": user.role, "to": role})


def set_password(home: Home, name: str, *, password: str | None, actor: str) -> None:
    """Set (or, with ``None``, remove) a user's password."""
    digest = _password_hash(name, password)
    with catalog(home) as con:
        _require_row(con, name)
        con.execute("UPDATE users SET password_hash = ?, updated_at = now() WHERE name = ?",
                    [digest, name])
        append_event(con, "user.password_changed", actor=actor, subject=f"user:{name}",
                     payload={"name": name, "password": digest is not None})


def remove_user(home: Home, name: str, *, actor: str) -> None:
    with catalog(home) as con:
        user = _require_row(con, name)
        if user.role == "admin":
            _refuse_last_admin(con, name, what="remove")
        con.execute("DELETE FROM users WHERE name = ?", [name])
        append_event(con, "user.removed", actor=actor, subject=f"user:{name}",
                     payload={"name": name, "role": user.role})


def _refuse_last_admin(con: duckdb.DuckDBPyConnection, name: str, *, what: str) -> None:
    admins = con.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]
    if admins <= 1:
        raise InputError(LAST_ADMIN.format(what=what, name=name))


def get_user(home: Home, name: str) -> User:
    """The user named ``name``; :class:`NotFoundError` with close names otherwise."""
    with catalog(home, read_only=True) as con:
        return _require_row(con, name)


def find_user(home: Home, name: str) -> User | None:
    """The user named ``name``, or None."""
    with catalog(home, read_only=True) as con:
        return _row(con, name)


def list_users(home: Home) -> list[User]:
    with catalog(home, read_only=True) as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name").fetchall()
    return [User(*r) for r in rows]


def authenticate(home: Home, name: str, password: str) -> User | None:
    """The user when ``password`` matches their hash, else None. An unknown name costs
    the same hashing time as a wrong password, so timing does not reveal names."""
    from argon2.exceptions import InvalidHashError, VerificationError

    with catalog(home, read_only=True) as con:
        row = con.execute(f"SELECT {_COLUMNS}, password_hash FROM users WHERE name = ?",
                          [name]).fetchone()
    hasher = _hasher()
    digest = row[-1] if row is not None and row[-1] else _dummy_hash()
    try:
        hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return None
    return None if row is None or not row[-1] else User(*row[:-1])


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash("raigov: no such user"))
    return _DUMMY[0]


def roles_with(permission: str) -> list[str]:
    return [role for role in ROLES if permission in PERMISSIONS[role]]


def require_permission(user: User | None, permission: str) -> User:
    """``user`` when their role grants ``permission``; :class:`AccessDeniedError`
    saying who, what and which roles may, otherwise."""
    if permission not in ALL_PERMISSIONS:
        raise ConfigError(UNKNOWN_PERMISSION.format(
            permission=permission, allowed=", ".join(sorted(ALL_PERMISSIONS)),
            hint=did_you_mean(permission, ALL_PERMISSIONS)))
    action = ACTIONS[permission]
    if user is None:
        raise AccessDeniedError(NOT_SIGNED_IN.format(action=action, permission=permission))
    if not user.can(permission):
        raise AccessDeniedError(PERMISSION_DENIED.format(
            name=user.name, role=user.role, action=action, permission=permission,
            roles=", ".join(roles_with(permission))))
    return user
