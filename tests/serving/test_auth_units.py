"""The parts of the gate that need no server: scopes and model bounds of a caller, what
each route needs, the token bucket (with a hand-driven clock) and the key snapshot a
server watches."""

from __future__ import annotations

import datetime as dt

import pytest

from raigov.home import Home
from raigov.keys import SCOPES, create_key, parse_rate, parse_token, revoke_key
from raigov.models.serving.auth import (NO_AUTH_CALLER, Caller, KeyWatcher, Refusal,
                                        authenticate, authorise, is_loopback, required_access)
from raigov.models.serving.rate_limit import RateLimiter, TokenBucket


def test_admin_implies_every_scope_and_a_model_list_bounds_the_models() -> None:
    admin = Caller("ops", frozenset({"admin"}), None)
    labeller = Caller("labels", frozenset({"feedback"}), frozenset({"credit"}))
    assert all(admin.may(s) for s in SCOPES) and admin.may_model("anything")
    assert labeller.may("feedback") and not labeller.may("predict")
    assert labeller.may_model("credit") and not labeller.may_model("income")
    assert NO_AUTH_CALLER.key == "no-auth" and all(NO_AUTH_CALLER.may(s) for s in SCOPES)


@pytest.mark.parametrize(("path", "headers", "scope", "model"), [
    ("/v1/models/credit/predict", {}, "predict", "credit"),
    ("/v1/models/credit/feedback", {}, "feedback", "credit"),
    ("/v1/models/credit/log", {}, "log", "credit"),
    ("/v1/models/credit/events", {}, "log", "credit"),
    ("/v1/events", {"ce-inferenceservicename": "credit"}, "log", "credit"),
    ("/v1/events", {}, "log", None),
    ("/metrics", {}, "metrics", None),
    ("/v1/models", {}, None, None),
    ("/docs", {}, None, None),
    ("/openapi.json", {}, None, None),
    ("/no/such/route", {}, None, None),
])
def test_each_route_needs_its_scope_and_model(path, headers, scope, model) -> None:
    access = required_access(path, headers)
    assert (access.open, access.scope, access.model) == (False, scope, model)


def test_only_healthz_is_open() -> None:
    assert required_access("/healthz", {}).open


def test_a_refusal_names_the_missing_scope_before_the_missing_model() -> None:
    caller = Caller("k", frozenset({"feedback"}), frozenset({"income"}))
    both = authorise(caller, required_access("/v1/models/credit/predict", {}), "POST x")
    model = authorise(caller, required_access("/v1/models/credit/feedback", {}), "POST y")
    assert isinstance(both, Refusal) and (both.status, both.reason) == (403, "scope")
    assert "'predict'" in both.message
    assert isinstance(model, Refusal) and (model.status, model.reason) == (403, "model")
    assert "'credit'" in model.message and "income" in model.message


def test_the_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.retry_after("k", 3.0) for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("k", 3.0) == 1              # (1 token / 3 per s) -> ceil 1 s
    now[0] += 0.34                                         # a third of a second, and a bit
    assert limiter.retry_after("k", 3.0) is None           # one token refilled
    assert limiter.retry_after("other", None) is None      # no rate: unlimited
    slow = TokenBucket(0.25, now=0.0)                      # burst max(1, 0.25) = 1
    assert slow.take(0.0) == 0.0
    assert slow.take(0.0) == pytest.approx(4.0)            # (1 - 0) / 0.25
    limiter = RateLimiter(clock=lambda: 0.0)
    limiter.retry_after("slow", 0.25)
    assert limiter.retry_after("slow", 0.25) == 4


def test_rates_read_as_requests_per_second() -> None:
    assert parse_rate("20/s") == 20.0 and parse_rate("0.5") == 0.5
    for bad in ("fast", "0/s", "-1", "inf"):
        with pytest.raises(Exception, match="is not a rate"):
            parse_rate(bad)


def test_tokens_parse_into_key_id_and_secret() -> None:
    assert parse_token("rgk_0a1b2c3d4e5f_s3cr_et-x") == ("0a1b2c3d4e5f", "s3cr_et-x")
    for bad in ("", "rgk_", "rgk_abc", "rgk__secret", "Bearer rgk_a_b", "sk_a_b"):
        assert parse_token(bad) is None, bad


def test_loopback_hosts_are_recognised() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.0.2", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example.org"))


def test_the_watcher_sees_new_and_revoked_keys_and_the_clock_expires_them(home: Home) -> None:
    watcher = KeyWatcher(home.api_keys_path)
    assert isinstance(authenticate("Bearer rgk_000000000000_x", watcher), Refusal)
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    made = create_key(home, "svc", scopes=["predict"], expires_at=soon)
    caller = authenticate(f"Bearer {made.token}", watcher)
    assert isinstance(caller, Caller) and caller.key == "svc"
    later = authenticate(f"bearer {made.token}", watcher, now=soon + dt.timedelta(seconds=1))
    assert isinstance(later, Refusal) and later.reason == "expired"
    revoke_key(home, "svc")
    gone = authenticate(f"Bearer {made.token}", watcher)
    assert isinstance(gone, Refusal) and (gone.status, gone.reason) == (401, "revoked")


class HandClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _empty_snapshot_without_bump(home: Home) -> None:
    """What a writer that knows nothing of the counter does: the snapshot alone."""
    import json

    home.api_keys_path.write_text(json.dumps({"version": 1, "keys": []}))


def test_with_the_change_counter_a_revoked_key_is_refused_at_once_with_the_clock_stopped(
        home: Home) -> None:
    clock = HandClock()
    watcher = KeyWatcher(home.api_keys_path, changes=home.api_keys_changes_path, clock=clock)
    made = create_key(home, "svc", scopes=["predict"])
    assert isinstance(authenticate(f"Bearer {made.token}", watcher), Caller)
    revoke_key(home, "svc")             # no time passes: only the counter can tell
    gone = authenticate(f"Bearer {made.token}", watcher)
    assert isinstance(gone, Refusal) and gone.reason == "revoked"
    other = create_key(home, "svc2", scopes=["predict"])
    assert isinstance(authenticate(f"Bearer {other.token}", watcher), Caller)


def test_a_snapshot_changed_without_a_bump_is_seen_within_the_recheck_second(home: Home) -> None:
    clock = HandClock()
    watcher = KeyWatcher(home.api_keys_path, changes=home.api_keys_changes_path, clock=clock)
    made = create_key(home, "svc", scopes=["predict"])
    assert isinstance(authenticate(f"Bearer {made.token}", watcher), Caller)
    _empty_snapshot_without_bump(home)  # e.g. a restore from a backup: no bump
    # Unchanged counter, clock stopped: the watcher does not look (no stat per request).
    assert isinstance(authenticate(f"Bearer {made.token}", watcher), Caller)
    clock.now += KeyWatcher.RECHECK_S
    assert isinstance(authenticate(f"Bearer {made.token}", watcher), Refusal)


def test_a_replaced_counter_file_is_mapped_again_and_revocation_still_counts(home: Home) -> None:
    clock = HandClock()
    made = create_key(home, "svc", scopes=["predict"])
    watcher = KeyWatcher(home.api_keys_path, changes=home.api_keys_changes_path, clock=clock)
    assert isinstance(authenticate(f"Bearer {made.token}", watcher), Caller)
    home.api_keys_changes_path.unlink()  # the mapping now holds a file nobody writes
    clock.now += KeyWatcher.RECHECK_S    # the once-a-second check maps the new file...
    revoke_key(home, "svc")              # ...which revoke_key makes and bumps
    assert isinstance(authenticate(f"Bearer {made.token}", watcher), Refusal)
    again = create_key(home, "svc-2", scopes=["predict"])
    revoke_key(home, "svc-2")            # clock stopped: seen through the new mapping
    assert authenticate(f"Bearer {again.token}", watcher).reason == "revoked"


def test_the_counter_is_bumped_in_place_after_every_key_change(home: Home) -> None:
    from raigov.change_counter import CounterMap, bump_counter

    create_key(home, "svc", scopes=["predict"])
    path = home.api_keys_changes_path
    inode, first = path.stat().st_ino, int.from_bytes(path.read_bytes(), "little")
    revoke_key(home, "svc")
    assert path.stat().st_ino == inode and path.stat().st_size == 8
    assert int.from_bytes(path.read_bytes(), "little") == first + 1
    mapped = CounterMap(path)
    assert bump_counter(path) == first + 2
    assert int.from_bytes(mapped.read(), "little") == first + 2   # seen through the map
    assert CounterMap(home.root / "absent").read() is None


def test_the_access_of_a_long_path_is_the_same_and_not_kept() -> None:
    from raigov.models.serving.auth import _access

    long_name = "m" * 300
    before = _access.cache_info().currsize
    access = required_access(f"/v1/models/{long_name}/predict", {})
    assert (access.scope, access.model) == ("predict", long_name)
    assert _access.cache_info().currsize == before
    assert required_access("/v1/models/credit/feedback", {}).scope == "feedback"
    assert required_access("/v1/events", {"ce-inferenceservicename": "credit"}).model == "credit"
    assert required_access("/v1/events", {"ce-inferenceservicename": "income"}).model == "income"
