"""Sign-ins and API key use are ledger events (key use at most once per key per
interval), written to a real catalog."""

from __future__ import annotations

from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.store.catalog import catalog


def _events(home: Home, kind: str):
    with catalog(home, read_only=True) as con:
        return read_events(con, kind=kind)


def test_key_use_is_recorded_once_per_interval_with_its_count(home: Home) -> None:
    from raigov.models.serving.key_use import KeyUseLog

    log = KeyUseLog(home, interval_s=3600)
    for _ in range(5):
        log.used("ci-bot", "POST /v1/models/m/predict")
    log.used("other", "GET /metrics")
    log.close()
    events = _events(home, "key.used")
    assert sorted((e.payload["key"], e.payload["uses"]) for e in events) == [
        ("ci-bot", 1), ("other", 1)]
    again = KeyUseLog(home, interval_s=0)
    again.used("ci-bot", "POST /v1/models/m/predict")
    again.used("ci-bot", "POST /v1/models/m/predict")
    again.close()
    assert len(_events(home, "key.used")) == 4


def test_a_failed_dashboard_sign_in_is_a_ledger_event_without_the_password(home: Home) -> None:
    from raigov.dashboard import auth

    user, message = auth.sign_in(home, "mallory", "hunter2-guess")
    assert user is None and message
    [event] = _events(home, "auth.sign_in_failed")
    assert event.payload == {"name": "mallory", "method": "password"}
    assert "hunter2" not in str(event.payload) and event.actor == "anonymous"
