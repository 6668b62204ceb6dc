"""Masking in the prediction explorer (AppTest on the seeded demo home, whose
sensitive attributes are encrypted): a viewer sees no sensitive value; an owner sees
them only after asking, and each reveal is a ``sensitive.revealed`` ledger event that
holds who, the model and the columns, never a value."""

from __future__ import annotations

import json

from raigov.dashboard.shape.predictions import MASKED
from raigov.home import Home
from raigov.ledger.chain import read_events
from raigov.store.catalog import catalog
from raigov.store.lake import lake_connection
from tests.dashboard.conftest import ledger_count

MODEL = "credit-risk"
SENSITIVE = ["sex", "foreign_worker"]


def _open_prediction(signed_in, home: Home, name: str):
    with lake_connection(home, model=MODEL) as con:
        pid, *values = con.execute(f"SELECT prediction_id, {', '.join(SENSITIVE)} "
                                   "FROM predictions LIMIT 1").fetchone()
    at = signed_in(name)
    at.query_params["model"] = MODEL
    at.switch_page("app_pages/model.py").run()
    at.session_state["model_tab"] = "Predictions"
    at.run()
    key = next(t.key for t in at.text_input if t.key.startswith("pred_id_"))
    at.text_input(key=key).input(pid).run()
    assert not at.exception, [e.message for e in at.exception]
    return at, pid, dict(zip(SENSITIVE, values))


def _inputs(at) -> dict[str, str]:
    frame = at.table[0].value
    return {str(k).replace("\\", ""): str(v).replace("\\", "")
            for k, v in zip(frame.index, frame["value"])}


def test_a_viewer_sees_sensitive_values_masked_and_cannot_reveal(signed_in,
                                                                 dashboard_home: Home) -> None:
    before = ledger_count(dashboard_home)
    at, _, truth = _open_prediction(signed_in, dashboard_home, "vera")
    shown = _inputs(at)
    assert [shown[c] for c in SENSITIVE] == [MASKED, MASKED]
    assert not [b for b in at.button if b.label == "Reveal sensitive values"]
    assert any("lacks the 'sensitive.read' permission" in c.value for c in at.caption)
    spec = at.get("plotly_chart")[0].proto.spec
    for column, value in truth.items():
        assert f"{column} = {value}" not in spec
    assert ledger_count(dashboard_home) == before


def test_an_owner_reveals_and_the_reveal_is_ledgered_without_the_value(
        signed_in, dashboard_home: Home) -> None:
    at, pid, truth = _open_prediction(signed_in, dashboard_home, "olga")
    assert [_inputs(at)[c] for c in SENSITIVE] == [MASKED, MASKED]
    before = ledger_count(dashboard_home)
    next(b for b in at.button if b.label == "Reveal sensitive values").click().run()
    assert not at.exception and not at.error
    shown = _inputs(at)
    assert [shown[c] for c in SENSITIVE] == [str(truth[c]) for c in SENSITIVE]
    assert ledger_count(dashboard_home) == before + 1
    with catalog(dashboard_home, read_only=True) as con:
        event = read_events(con)[-1]
    assert (event.kind, event.actor, event.subject) == ("sensitive.revealed", "olga", MODEL)
    assert event.payload == {"model": MODEL, "prediction_id": pid, "columns": sorted(SENSITIVE)}
    assert not any(str(v) in json.dumps(event.payload) for v in truth.values())
