"""End to end in headless Chromium against ``raigov dashboard`` started as a process on
a seeded home: sign in, the fleet, acknowledging an alert into the ledger, hostile
names shown as text, and the kill switch reaching a real model server. Screenshots of
every page go to the test artefacts directory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from raigov.dashboard.shape.governance import alerts_frame
from raigov.models.serving.server_process import ServerProcess, free_port
from raigov.policies.alerts import alert_history, list_alerts
from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.ledger.chain import read_events
from tests.dashboard.browser import (DashboardProcess, choose, open_page, open_tab, screenshot,
                                     settle, sign_in)
from tests.dashboard.conftest import PASSWORDS, ledger_count
from tests.dashboard.hostile import register_hostile_model

pytestmark = pytest.mark.slow

PAGES = [("Fleet", "Fleet"), ("Model", "Model"), ("Alerts", "Alerts"),
         ("Policies", "Policies"), ("Cards and audit", "Model cards and audit")]
MODEL_TABS = ["Performance", "Drift", "Fairness", "Data quality", "Explanations", "Predictions"]
COMMENT = "Label backlog after the migration; checking with the data team."


def test_an_owner_signs_in_sees_the_fleet_and_acknowledges_an_alert_into_the_ledger(
        page, dialogs: list[str], dashboard_home: Home, artifacts_dir: Path) -> None:
    with DashboardProcess(dashboard_home, free_port()) as dashboard:
        sign_in(page, dashboard.url, "olga", PASSWORDS["olga"])
        for model in ("credit-risk", "income-classifier"):
            assert page.get_by_role("heading", name=f"{model} · v1").is_visible()
        screenshot(page, artifacts_dir, "fleet")
        for nav, heading in PAGES[1:]:
            open_page(page, nav, heading)
            screenshot(page, artifacts_dir, nav.lower().replace(" ", "-"))
        open_page(page, "Model", "Model")
        for tab in MODEL_TABS[1:]:
            open_tab(page, tab)
            screenshot(page, artifacts_dir, f"model-{tab.lower().replace(' ', '-')}")

        open_page(page, "Alerts", "Alerts")
        first = alerts_frame(list_alerts(dashboard_home, status="open")).iloc[0]
        alert = next(a for a in list_alerts(dashboard_home) if a.alert_id == first["alert_id"])
        opened = page.get_by_role("combobox", name="Open alert").input_value()
        assert opened.endswith(alert.alert_id[:13])    # the inbox opens its first alert
        before = ledger_count(dashboard_home)
        page.get_by_role("textbox", name="Comment (required to resolve)").fill(COMMENT)
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("acknowledged by olga").wait_for(timeout=60_000)
        settle(page)
        screenshot(page, artifacts_dir, "alerts-acknowledged")

    assert ledger_count(dashboard_home) == before + 1
    with catalog(dashboard_home, read_only=True) as con:
        event = read_events(con)[-1]
    assert (event.kind, event.actor, event.subject.endswith(alert.alert_id)) == \
        ("alert.acknowledged", "olga", True)
    assert alert_history(dashboard_home, alert.alert_id)[-1].comment == COMMENT
    assert dialogs == []


def _text_is_literal(page, text: str) -> bool:
    return text in page.locator("body").inner_text()


def test_a_hostile_model_name_and_feature_value_render_as_plain_text_on_every_page(
        page, dialogs: list[str], dashboard_home: Home, artifacts_dir: Path,
        tmp_path: Path) -> None:
    hostile = register_hostile_model(dashboard_home, tmp_path)
    with DashboardProcess(dashboard_home, free_port()) as dashboard:
        sign_in(page, dashboard.url, "ada", PASSWORDS["ada"])
        assert _text_is_literal(page, hostile.name)
        open_page(page, "Model", "Model")
        choose(page, "Model", hostile.name)
        assert _text_is_literal(page, hostile.name)
        for tab in MODEL_TABS:
            open_tab(page, tab)
            if tab == "Fairness":
                choose(page, "Attribute or intersection", "sex")
                assert _text_is_literal(page, hostile.value)
            if tab == "Drift":
                page.get_by_role("button", name="Show Evidently's report for this window").click()
                settle(page, timeout_ms=240_000)
                page.wait_for_timeout(3000)     # the report's own scripts run
            if tab == "Predictions":
                page.get_by_role("textbox", name="Prediction id").fill(hostile.prediction_id)
                page.keyboard.press("Enter")
                settle(page)
                assert _text_is_literal(page, hostile.value)
            screenshot(page, artifacts_dir, f"hostile-model-{tab.lower().replace(' ', '-')}")
        open_page(page, "Alerts", "Alerts")
        choose(page, "Model", hostile.name)
        assert _text_is_literal(page, hostile.name)
        for nav, heading in [*PAGES[3:], ("Users", "Users")]:
            open_page(page, nav, heading)
            if nav != "Users":
                choose(page, "Model", hostile.name)
                assert _text_is_literal(page, hostile.name)
            screenshot(page, artifacts_dir, f"hostile-{nav.lower().replace(' ', '-')}")
        assert page.locator('img[src="x"]').count() == 0
    assert dialogs == []


def test_disabling_a_model_in_the_dashboard_makes_its_next_prediction_get_503(
        page, dashboard_home: Home, artifacts_dir: Path) -> None:
    from raigov.models.registry import get_model

    spec = get_model(dashboard_home, "credit-risk").spec
    row = get_model(dashboard_home, "credit-risk").load_reference()[spec.input_columns] \
        .head(1).astype(object).to_dict("records")
    with ServerProcess.with_key(dashboard_home, free_port()) as server, \
            DashboardProcess(dashboard_home, free_port()) as dashboard:
        url = f"{server.url}/v1/models/credit-risk/predict"
        assert httpx.post(url, json={"rows": row}, timeout=30,
                          headers=server.headers).status_code == 200
        sign_in(page, dashboard.url, "olga", PASSWORDS["olga"])
        open_page(page, "Model", "Model")
        choose(page, "Model", "credit-risk")
        page.get_by_text("Kill switch").click()
        page.get_by_role("textbox", name="Reason (required to disable)").fill(
            "Bias investigation")
        page.get_by_role("button", name="Disable this version").click()
        page.get_by_text("Disabled credit-risk version 1").wait_for(timeout=60_000)
        settle(page)
        screenshot(page, artifacts_dir, "model-disabled")
        refused = httpx.post(url, json={"rows": row}, timeout=30, headers=server.headers)
    assert refused.status_code == 503
    assert "Bias investigation" in refused.text
    with catalog(dashboard_home, read_only=True) as con:
        event = read_events(con, kind="model.disabled")[-1]
    assert (event.actor, event.payload["reason"]) == ("olga", "Bias investigation")
