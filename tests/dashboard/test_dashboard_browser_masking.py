"""Masking seen in a real browser: ``raigov dashboard`` as a process on the seeded demo
home (whose sensitive attributes are encrypted in the lake), driven by headless
Chromium. A viewer opening a prediction sees its sensitive inputs masked, in the table
and in the explanation chart, and has no way to reveal them; an owner sees them masked
until they ask, and the reveal is one ``sensitive.revealed`` ledger event."""

from __future__ import annotations

from pathlib import Path

import pytest

from raigov.dashboard.sections.predictions import MASKED_NOTE, REVEAL
from raigov.dashboard.shape.predictions import MASKED
from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.models.serving.server_process import free_port
from raigov.store.catalog import catalog
from raigov.store.lake import lake_connection
from tests.dashboard.browser import (DashboardProcess, choose, open_page, open_tab, screenshot,
                                     settle, sign_in)
from tests.dashboard.conftest import PASSWORDS, ROLES, ledger_count

pytestmark = pytest.mark.slow

MODEL = "credit-risk"
SENSITIVE = ["sex", "foreign_worker"]


def _a_prediction(home: Home) -> tuple[str, dict[str, str]]:
    with lake_connection(home, model=MODEL) as con:
        pid, *values = con.execute(f"SELECT prediction_id, {', '.join(SENSITIVE)} "
                                   "FROM predictions ORDER BY ts, prediction_id "
                                   "LIMIT 1").fetchone()
    return pid, {c: str(v) for c, v in zip(SENSITIVE, values)}


def _open(page, url: str, name: str, prediction_id: str) -> None:
    sign_in(page, url, name, PASSWORDS[name])
    open_page(page, "Model", "Model")
    choose(page, "Model", MODEL)
    open_tab(page, "Predictions")
    page.get_by_role("textbox", name="Prediction id").fill(prediction_id)
    page.keyboard.press("Enter")
    settle(page)
    page.get_by_role("heading", name=f"Prediction {prediction_id}").wait_for(timeout=60_000)


_TABLE_JS = """() => {
  const table = document.querySelector('[data-testid="stTable"]');
  if (!table) return null;
  return [...table.querySelectorAll('tbody tr')].map(tr => [
    (tr.querySelector('th') || {}).innerText, (tr.querySelector('td') || {}).innerText]);
}"""


def _inputs_table(page) -> dict[str, str]:
    """The inputs table as the browser draws it: row header -> value cell (read in one
    go, so a redraw cannot interleave)."""
    rows = page.evaluate(_TABLE_JS)
    assert rows, "the page shows no inputs table"
    return {str(th).strip(): str(td).strip() for th, td in rows}


def _chart_text(page) -> str:
    return " ".join(page.locator('[data-testid="stPlotlyChart"] svg').all_text_contents())


def test_a_viewer_sees_sensitive_inputs_masked_in_the_browser_and_cannot_reveal(
        page, dialogs: list[str], dashboard_home: Home, artifacts_dir: Path) -> None:
    pid, truth = _a_prediction(dashboard_home)
    with DashboardProcess(dashboard_home, free_port()) as dashboard:
        _open(page, dashboard.url, "vera", pid)
        shown = _inputs_table(page)
        chart = _chart_text(page)
        screenshot(page, artifacts_dir, "masked-viewer")
        note = MASKED_NOTE.format(role=ROLES["vera"])
        assert page.get_by_text(note).is_visible()
        assert page.get_by_role("button", name=REVEAL).count() == 0
    assert len(shown) > len(SENSITIVE)          # the other inputs are shown as they are
    assert [shown[c] for c in SENSITIVE] == [MASKED, MASKED]
    assert chart, "the explanation chart drew no text"
    for column, value in truth.items():
        assert f"{column} = {value}" not in chart
    with catalog(dashboard_home, read_only=True) as con:
        assert read_events(con, kind="sensitive.revealed") == []
        signed_in = read_events(con, kind="auth.signed_in")
    assert signed_in[-1].actor == "vera"            # the visit itself is on the record
    assert dialogs == []


def test_an_owner_reveals_in_the_browser_and_the_reveal_is_one_ledger_event(
        page, dialogs: list[str], dashboard_home: Home, artifacts_dir: Path) -> None:
    pid, truth = _a_prediction(dashboard_home)
    with DashboardProcess(dashboard_home, free_port()) as dashboard:
        _open(page, dashboard.url, "olga", pid)
        masked = _inputs_table(page)
        before = ledger_count(dashboard_home)
        page.get_by_role("button", name=REVEAL).click()
        page.get_by_text("Revealed to you").wait_for(timeout=60_000)
        settle(page)
        revealed = _inputs_table(page)
        screenshot(page, artifacts_dir, "revealed-owner")
    assert [masked[c] for c in SENSITIVE] == [MASKED, MASKED]
    assert [revealed[c] for c in SENSITIVE] == [truth[c] for c in SENSITIVE]
    assert ledger_count(dashboard_home) == before + 1
    with catalog(dashboard_home, read_only=True) as con:
        event = read_events(con)[-1]
    assert (event.kind, event.actor, event.subject) == ("sensitive.revealed", "olga", MODEL)
    assert event.payload == {"model": MODEL, "prediction_id": pid, "columns": sorted(SENSITIVE)}
    assert dialogs == []
