"""raigov.users: argon2 hashes, roles and permissions, ledger events; the users CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from raigov import users as u
from raigov.store.catalog import catalog
from raigov.errors import ConfigError, InputError, NotFoundError
from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.ledger.verify import audit_verify


def events(home: Home, kind: str | None = None):
    with catalog(home, read_only=True) as con:
        return read_events(con, kind=kind)


def test_a_user_signs_in_with_the_right_password_only(home: Home) -> None:
    u.add_user(home, "alice", role="owner", password="correct horse", actor="test")
    user = u.authenticate(home, "alice", "correct horse")
    assert user is not None and user.name == "alice" and user.role == "owner"
    assert u.authenticate(home, "alice", "wrong horse") is None
    assert u.authenticate(home, "nobody", "correct horse") is None


def test_the_catalog_keeps_an_argon2id_hash_never_the_password(home: Home) -> None:
    u.add_user(home, "alice", role="viewer", password="correct horse", actor="test")
    with catalog(home, read_only=True) as con:
        stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    payloads = [e.payload for e in events(home)]
    assert all("correct horse" not in str(p) and "$argon2" not in str(p) for p in payloads)


def test_every_user_change_is_a_ledger_event_and_the_chain_verifies(home: Home) -> None:
    u.add_user(home, "root", role="admin", password="root password", actor="setup")
    u.add_user(home, "alice", role="viewer", password="correct horse", actor="root")
    u.set_role(home, "alice", role="owner", actor="root")
    u.set_password(home, "alice", password="battery staple", actor="root")
    u.remove_user(home, "alice", actor="root")
    kinds = [(e.kind, e.actor, e.subject) for e in events(home) if e.kind.startswith("user.")]
    assert kinds == [("user.added", "setup", "user:root"), ("user.added", "root", "user:alice"),
                     ("user.role_changed", "root", "user:alice"),
                     ("user.password_changed", "root", "user:alice"),
                     ("user.removed", "root", "user:alice")]
    assert events(home, "user.role_changed")[0].payload == {"from": "viewer", "name": "alice",
                                                            "to": "owner"}
    assert audit_verify(home).ok


def test_roles_grant_exactly_the_documented_permissions() -> None:
    assert u.PERMISSIONS["viewer"] == {"read"}
    assert u.PERMISSIONS["auditor"] == {"read", "export"}
    assert u.PERMISSIONS["owner"] == {"read", "alert.acknowledge", "alert.resolve",
                                      "model.toggle", "sensitive.read"}
    assert u.PERMISSIONS["admin"] == u.ALL_PERMISSIONS


def test_require_permission_names_the_user_the_action_and_the_roles_that_may(home: Home) -> None:
    u.add_user(home, "vera", role="viewer", password="viewer password", actor="test")
    vera = u.get_user(home, "vera")
    with pytest.raises(u.AccessDeniedError) as err:
        u.require_permission(vera, "alert.acknowledge")
    assert str(err.value) == u.PERMISSION_DENIED.format(
        name="vera", role="viewer", action="acknowledge alerts",
        permission="alert.acknowledge", roles="owner, admin")
    with pytest.raises(u.AccessDeniedError, match="Sign in first"):
        u.require_permission(None, "read")
    assert u.require_permission(vera, "read") is vera


def test_unknown_roles_and_permissions_are_refused_with_close_matches(home: Home) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'owner'"):
        u.add_user(home, "bob", role="ownr", password="long enough", actor="test")
    with pytest.raises(ConfigError, match="Did you mean 'export'"):
        u.require_permission(None, "exprt")


def test_bad_names_short_passwords_and_duplicates_are_refused(home: Home) -> None:
    with pytest.raises(InputError, match="too short"):
        u.add_user(home, "bob", role="viewer", password="short", actor="test")
    with pytest.raises(InputError, match="not allowed"):
        u.add_user(home, " bob", role="viewer", password="long enough", actor="test")
    u.add_user(home, "bob", role="viewer", password="long enough", actor="test")
    with pytest.raises(InputError, match="already exists"):
        u.add_user(home, "bob", role="admin", password="long enough", actor="test")
    with pytest.raises(NotFoundError, match="Did you mean 'bob'"):
        u.get_user(home, "bobb")


def test_the_last_admin_keeps_the_role(home: Home) -> None:
    u.add_user(home, "root", role="admin", password="root password", actor="setup")
    with pytest.raises(InputError, match="last admin"):
        u.set_role(home, "root", role="viewer", actor="root")
    with pytest.raises(InputError, match="last admin"):
        u.remove_user(home, "root", actor="root")


def test_an_oidc_only_user_cannot_sign_in_with_a_password(home: Home) -> None:
    u.add_user(home, "ann@example.org", role="viewer", password=None, actor="test")
    assert u.get_user(home, "ann@example.org").has_password is False
    assert u.authenticate(home, "ann@example.org", "") is None
    assert u.authenticate(home, "ann@example.org", "anything at all") is None


def test_the_users_cli_adds_from_stdin_and_lists_without_hashes(home: Home) -> None:
    from raigov.cli import main

    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "carol", "--role", "auditor",
                                 "--password-stdin", "--home", str(home.root)],
                          input="auditor password\n")
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["users", "list", "--home", str(home.root)])
    assert listed.exit_code == 0 and "carol" in listed.output and "auditor" in listed.output
    assert "$argon2" not in listed.output
    assert u.authenticate(home, "carol", "auditor password") is not None
    short = runner.invoke(main, ["users", "add", "dan", "--role", "viewer", "--password-stdin",
                                 "--home", str(home.root)], input="short\n")
    assert short.exit_code == 2 and "too short" in short.output
