"""The demo end to end: real training, a real ``raigov serve`` process (restarted for a
new version), real monitors and policies, the scoreboard. Each test runs a whole demo
in its own home (about 1 to 3 minutes on a shared 2-core machine)."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import httpx
import pytest

from raigov.policies.alerts import list_alerts
from raigov.cli.demo.dashboard import demo_user, start_dashboard, stop_dashboard
from raigov.cli.demo.fleet import HOME_IN_USE
from raigov.cli.demo.run import DemoOptions, DemoResult, run_demo
from raigov.cli.demo.scenario import SCENARIOS_DIR
from raigov.cli.demo.scoreboard import SCOREBOARD_FILE
from raigov.errors import ConfigError
from raigov.home import Home
from raigov.store.lake import lake_connection

pytestmark = pytest.mark.slow

END = dt.date(2026, 3, 8)
SMOKE = SCENARIOS_DIR / "smoke.yaml"
BUILTIN_KINDS = {"covariate_shift", "data_fault", "biased_version", "concept_shift",
                 "value_shift"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, DemoResult]:
    home = Home.resolve(tmp_path_factory.mktemp("smoke") / "home")
    return home, run_demo(home, DemoOptions(scenario=SMOKE, dashboard=False, end=END))


def test_the_short_scenario_catches_every_incident_within_a_window_without_critical_false_alarms(
        smoke_run: tuple[Home, DemoResult]) -> None:
    home, result = smoke_run
    board = json.loads((home.root / SCOREBOARD_FILE).read_text())
    assert board == json.loads(json.dumps(result.scoreboard))
    assert {i["kind"] for i in board["incidents"]} == BUILTIN_KINDS
    for incident in board["incidents"]:
        assert incident["detected"], incident
        assert 0 <= incident["delay_windows"] <= 1, incident
    assert board["detection_rate"] == 1.0
    assert [a for a in board["false_alarms"] if a["severity"] == "critical"] == []
    assert set(result.timings) >= {"train", "traffic", "labels", "monitor", "scoreboard"}


def test_the_faulty_requests_are_quarantined_and_the_new_version_serves_from_its_day(
        smoke_run: tuple[Home, DemoResult]) -> None:
    home, result = smoke_run
    credit = result.scoreboard["models"]["credit-risk"]
    assert credit["rejected_rows"] > 0
    assert credit["quarantined_rows"] == credit["rejected_rows"]
    assert credit["versions"] == 2
    with lake_connection(home, model="credit-risk") as con:
        spans = con.execute("SELECT version, min(ts)::DATE, max(ts)::DATE FROM predictions "
                            "GROUP BY version ORDER BY version").fetchall()
    switch = END - dt.timedelta(days=8 - 6)     # smoke: 8 days, version 2 on day 6
    assert spans == [(1, END - dt.timedelta(days=7), switch - dt.timedelta(days=1)),
                     (2, switch, END)]


def test_a_home_that_already_holds_models_is_refused(smoke_run: tuple[Home, DemoResult]) -> None:
    home, _ = smoke_run
    with pytest.raises(ConfigError) as caught:
        run_demo(home, DemoOptions(scenario=SMOKE, dashboard=False, end=END))
    assert str(caught.value) == HOME_IN_USE.format(
        root=home.root, models="credit-risk, hours-estimator, income-classifier, job-sector")


def test_the_dashboard_stage_answers_on_its_port_and_signs_in_the_demo_user(
        smoke_run: tuple[Home, DemoResult], tmp_path) -> None:
    from raigov.models.serving.server_process import free_port
    from raigov.users import authenticate

    home = Home.resolve(shutil.copytree(smoke_run[0].root, tmp_path / "home"))
    port = free_port()
    process = start_dashboard(home, port=port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        user, password = demo_user(home)
        assert authenticate(home, user, password).role == "admin"
        _, again = demo_user(home)          # a second run resets the password
        assert again != password and authenticate(home, user, again) is not None
    finally:
        stop_dashboard(process)
    assert process.poll() is not None


CALM_DAYS = 20
MAX_CALM_WARNINGS = 3


@pytest.mark.timeout(1800)   # about 4 minutes on an idle 2-core machine; far more when shared
def test_calm_days_with_the_shipped_packs_raise_no_critical_and_at_most_three_warnings(
        tmp_path) -> None:
    """The acceptance of the shipped packs, shortened: ``raigov demo --scenario calm`` as a
    real process (README has the full 90 days). The demo installs the packs as shipped
    (tests/demo/test_install_policies.py), so these counts are the packs'."""
    import subprocess
    import sys

    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "raigov.cli", "demo", "--scenario", "calm", "--days",
         str(CALM_DAYS), "--end-date", END.isoformat(), "--no-dashboard", "--home", str(home)],
        capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    board = json.loads((home / SCOREBOARD_FILE).read_text())
    assert board["days"] == CALM_DAYS and board["incidents"] == []
    alerts = list_alerts(Home.resolve(home))
    by_severity = {s: [a for a in alerts if a.severity == s] for s in ("critical", "warning")}
    assert by_severity["critical"] == []
    assert len(by_severity["warning"]) <= MAX_CALM_WARNINGS, by_severity["warning"]
    assert len(board["false_alarms"]) == len(alerts)   # every alert is a false alarm here
    assert f"false alarms: {len(alerts)} " in done.stderr   # the demo reports on stderr


def test_the_same_seed_and_end_date_give_the_same_scoreboard(tmp_path) -> None:
    options = DemoOptions(scenario=SMOKE, days=3, rows_per_day=300, dashboard=False, end=END)
    first = run_demo(Home.resolve(tmp_path / "one"), options).scoreboard
    second = run_demo(Home.resolve(tmp_path / "two"), options).scoreboard
    assert first == second
    assert [i["name"] for i in first["incidents"]] == ["crypto-loans", "older-longer-hours"]
    assert first["not_injected"] == ["farmers-and-owners", "country-feed-down",
                                     "retrain-penalises-women", "young-graduates-earn-more",
                                     "women-work-longer"]
