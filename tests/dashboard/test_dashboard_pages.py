"""AppTest runs of the real dashboard on a seeded home: every page renders for a
signed-in user, its figures match the catalog, and roles are checked where actions
run."""

from __future__ import annotations

import json

import pytest

from raigov.dashboard import ui
from raigov.monitors.store import read_metric_rows
from raigov.policies.alerts import alert_history, list_alerts
from raigov.store.catalog import catalog
from raigov.home import Home
from raigov.ledger.chain import read_events
from tests.dashboard.conftest import ledger_count

PAGES = {"fleet": "Fleet", "model": "Model", "alerts": "Alerts", "policies": "Policies",
         "cards": "Model cards and audit", "users": "Users"}


def no_failures(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_for_an_admin_without_errors(signed_in, page: str) -> None:
    at = signed_in("ada", page=page)
    no_failures(at)
    assert [t.value for t in at.title] == [PAGES[page]]


def test_the_fleet_shows_the_catalogs_latest_accuracy_for_every_model(
        signed_in, dashboard_home: Home) -> None:
    at = signed_in("vera", page="fleet")
    no_failures(at)
    table = at.dataframe[0].value.set_index("model")
    rows = read_metric_rows(dashboard_home, metric_prefix="performance.accuracy")
    rows = rows[rows["segment"] == "all"].sort_values("window_start")
    with catalog(dashboard_home, read_only=True) as con:
        registered = {m for (m,) in con.execute("SELECT DISTINCT name FROM models").fetchall()}
    assert set(table.index) == registered
    assert set(rows["model"]) == {"income-classifier", "credit-risk", "job-sector"}
    shown = [m.value for m in at.metric if m.label == "Accuracy"]
    for model, expected in rows.groupby("model")["value"].last().items():
        assert table.loc[model, "accuracy"] == expected
        assert f"{expected:.1%}" in shown
    # the regressor has no accuracy: its cell stays empty rather than showing a number
    assert table.loc["hours-estimator", "accuracy"] != table.loc["hours-estimator", "accuracy"]


def test_the_fleet_counts_active_alerts_per_model_like_list_alerts(
        signed_in, dashboard_home: Home) -> None:
    at = signed_in("vera", page="fleet")
    table = at.dataframe[0].value.set_index("model")
    for model in table.index:
        active = [a for a in list_alerts(dashboard_home, model=model)
                  if a.status in ("open", "acknowledged")]
        for severity in ("info", "warning", "critical"):
            assert table.loc[model, f"alerts_{severity}"] == sum(
                a.severity == severity for a in active)


def test_without_signing_in_only_the_sign_in_form_shows(dashboard_home: Home) -> None:
    from tests.dashboard.conftest import app_test

    at = app_test().run()
    no_failures(at)
    assert [t.value for t in at.title] == ["Sign in to raigov"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")
    with pytest.raises(ValueError):
        at.switch_page("app_pages/fleet.py")   # not a page for a signed-out visitor


def test_signing_in_with_the_password_opens_the_fleet(dashboard_home: Home) -> None:
    from tests.dashboard.conftest import PASSWORDS, app_test

    at = app_test().run()
    at.text_input(key="sign_in_name").input("vera")
    at.text_input(key="sign_in_password").input(PASSWORDS["vera"])
    at.button[0].click().run()
    no_failures(at)
    assert [t.value for t in at.title] == ["Fleet"]


def test_a_wrong_password_is_refused_and_the_next_try_must_wait(dashboard_home: Home,
                                                                monkeypatch) -> None:
    from raigov.dashboard import auth
    from tests.dashboard.conftest import PASSWORDS, app_test

    monkeypatch.setenv("RAIGOV_LOGIN_DELAY_S", "5")
    monkeypatch.setattr(auth.time, "sleep", lambda s: None)   # keep the test fast
    at = app_test().run()
    at.text_input(key="sign_in_name").input("vera")
    at.text_input(key="sign_in_password").input("not her password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [auth.BAD_CREDENTIALS]
    at.text_input(key="sign_in_name").input("vera")
    at.text_input(key="sign_in_password").input(PASSWORDS["vera"])
    at.button[0].click().run()
    assert at.error[0].value.startswith("Too many failed sign-ins")
    assert [t.value for t in at.title] == ["Sign in to raigov"]


def test_an_idle_session_expires_and_shows_no_data(signed_in, monkeypatch) -> None:
    at = signed_in("vera", page="fleet")
    at.session_state["raigov_session"]["last_seen"] -= 61 * 60
    at.run()
    assert [t.value for t in at.title] == ["Sign in to raigov"]
    assert "expired" in at.info[0].value and not at.metric


def test_signing_out_ends_the_session(signed_in) -> None:
    at = signed_in("vera", page="fleet")
    at.button(key="sign_out").click().run()
    assert [t.value for t in at.title] == ["Sign in to raigov"]
    assert "raigov_session" not in at.session_state


def _open_alert(home: Home):
    return next(a for a in list_alerts(home, status="open"))


def test_an_owner_acknowledges_an_alert_with_a_comment_recorded_in_the_ledger(
        signed_in, dashboard_home: Home) -> None:
    alert = _open_alert(dashboard_home)
    at = signed_in("olga")
    at.switch_page("app_pages/alerts.py")  # a page switch starts with no query params
    at.query_params["alert"] = alert.alert_id
    at.run()
    before = ledger_count(dashboard_home)
    at.text_area(key="alert_comment").input("looking into the label backlog")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    no_failures(at)
    assert ledger_count(dashboard_home) == before + 1
    with catalog(dashboard_home, read_only=True) as con:
        last = read_events(con)[-1]
    assert (last.kind, last.actor) == ("alert.acknowledged", "olga")
    history = alert_history(dashboard_home, alert.alert_id)
    assert (history[-1].actor, history[-1].comment) == ("olga", "looking into the label backlog")
    assert "acknowledged by olga" in at.success[0].value


def test_a_viewers_acknowledge_is_refused_and_the_ledger_does_not_change(
        signed_in, dashboard_home: Home) -> None:
    alert = _open_alert(dashboard_home)
    at = signed_in("vera")
    at.switch_page("app_pages/alerts.py")  # a page switch starts with no query params
    at.query_params["alert"] = alert.alert_id
    at.run()
    before = ledger_count(dashboard_home)
    at.text_area(key="alert_comment").input("I should not be able to")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert ledger_count(dashboard_home) == before
    assert "may not acknowledge alerts" in at.error[0].value
    assert list_alerts(dashboard_home, status="open")[0].status == "open"
    assert alert_history(dashboard_home, alert.alert_id)[-1].transition == "opened"


def test_resolving_needs_a_comment(signed_in, dashboard_home: Home) -> None:
    alert = _open_alert(dashboard_home)
    at = signed_in("olga")
    at.switch_page("app_pages/alerts.py")  # a page switch starts with no query params
    at.query_params["alert"] = alert.alert_id
    at.run()
    before = ledger_count(dashboard_home)
    next(b for b in at.button if b.label == "Resolve").click().run()
    assert "needs a comment" in at.error[0].value
    assert ledger_count(dashboard_home) == before


def test_the_users_page_is_only_for_admins(signed_in) -> None:
    at = signed_in("olga")
    with pytest.raises(ValueError):
        at.switch_page("app_pages/users.py")
    at = signed_in("ada", page="users")
    names = at.dataframe[0].value["name"].tolist()
    assert names == sorted(["ada", "olga", "vera", "otto"])


def test_an_admin_adds_a_user_and_the_ledger_names_the_admin(signed_in,
                                                             dashboard_home: Home) -> None:
    from raigov.users import authenticate

    at = signed_in("ada", page="users")
    at.text_input(key="new_user_name").input("nina")
    at.selectbox(key="new_user_role").select("auditor")
    at.text_input(key="new_user_password").input("nina password")
    next(b for b in at.button if b.label == "Add user").click().run()
    no_failures(at)
    assert authenticate(dashboard_home, "nina", "nina password").role == "auditor"
    with catalog(dashboard_home, read_only=True) as con:
        last = read_events(con)[-1]
    assert (last.kind, last.actor, last.subject) == ("user.added", "ada", "user:nina")


def test_the_model_page_draws_each_section_without_errors(signed_in) -> None:
    at = signed_in("vera", page="model")
    for tab in ("Performance", "Drift", "Fairness", "Data quality", "Explanations"):
        at.session_state["model_tab"] = tab
        at.run()
        no_failures(at)
        assert at.get("plotly_chart"), tab


def test_the_model_page_shows_the_windows_performance_from_the_catalog(
        signed_in, dashboard_home: Home) -> None:
    at = signed_in("vera", page="model")
    model = at.selectbox(key="model").value
    window = at.selectbox(key=f"window_{model}_1").value
    rows = read_metric_rows(dashboard_home, model=model, metric_prefix="performance.")
    rows = rows[(rows["segment"] == "all") & (rows["window_start"] == window)]
    shown = {m.label: m.value for m in at.metric}
    for row in rows.itertuples():
        assert shown[row.metric.removeprefix("performance.")] == f"{row.value:.3f}"


def test_the_fairness_section_marks_insufficient_groups_and_draws_the_policy_line(
        signed_in) -> None:
    at = signed_in("vera")
    at.query_params["model"] = "income-classifier"
    at.switch_page("app_pages/model.py").run()
    at.session_state["model_tab"] = "Fairness"
    at.run()
    at.selectbox(key=next(s.key for s in at.selectbox if s.key.startswith("fair_attr_"))) \
        .select("race").run()
    groups = at.dataframe[0].value
    assert {"group", "value", "ci_low", "ci_high", "n", "sufficient"} <= set(groups.columns)
    assert (~groups["sufficient"]).any()          # the demo's small race groups
    figure = at.get("plotly_chart")[0].proto.spec
    assert "four-fifths" in figure and "insufficient" in figure


def test_the_prediction_explorer_finds_a_prediction_by_id_and_explains_it(
        signed_in, dashboard_home: Home) -> None:
    from raigov.store.lake import lake_connection

    with lake_connection(dashboard_home, model="credit-risk") as con:
        pid = con.execute("SELECT prediction_id FROM predictions LIMIT 1").fetchone()[0]
    at = signed_in("vera")
    at.query_params["model"] = "credit-risk"
    at.switch_page("app_pages/model.py").run()
    at.session_state["model_tab"] = "Predictions"
    at.run()
    key = next(t.key for t in at.text_input if t.key.startswith("pred_id_"))
    at.text_input(key=key).input(pid).run()
    no_failures(at)
    assert any(ui.md(pid) in s.value for s in at.subheader)
    assert at.table and "Why this decision" in at.get("plotly_chart")[0].proto.spec


def test_disabling_a_model_needs_the_owner_role_and_a_reason(signed_in,
                                                           dashboard_home: Home) -> None:
    from raigov.models.serving.control import model_status

    at = signed_in("vera", page="model")
    before = ledger_count(dashboard_home)
    next(b for b in at.button if b.label == "Disable this version").click().run()
    assert "may not disable or enable models" in at.error[0].value
    at = signed_in("olga", page="model")
    model = at.selectbox(key="model").value
    next(b for b in at.button if b.label == "Disable this version").click().run()
    assert "needs a reason" in at.error[0].value
    assert ledger_count(dashboard_home) == before
    reason_key = next(t.key for t in at.text_input if t.key.startswith("kill_reason_"))
    at.text_input(key=reason_key).input("bias investigation")
    next(b for b in at.button if b.label == "Disable this version").click().run()
    assert model_status(dashboard_home)[f"{model}@1"]["actor"] == "olga"
    assert ledger_count(dashboard_home) == before + 1


def test_the_policies_page_lists_rules_findings_and_waivers(signed_in) -> None:
    at = signed_in("vera", page="policies")
    no_failures(at)
    matrix = at.dataframe[0].value
    assert {"fairness-four-fifths", "data-quality"} <= set(matrix["policy"])
    frames = [d.value for d in at.dataframe[1:]]
    assert any({"rule", "metric", "expects"} <= set(f.columns) for f in frames)
    assert any({"rule_id", "status", "observed"} <= set(f.columns) for f in frames)


def test_a_waiver_file_shows_its_waivers_by_policy_and_rule_and_no_empty_rules_table(
        signed_in) -> None:
    from raigov.dashboard.shape.governance import WAIVER_FILE

    at = signed_in("vera", page="policies")
    at.selectbox(key="policies_model").select("income-classifier").run()
    no_failures(at)
    assert WAIVER_FILE in [c.value for c in at.caption]
    frames = [d.value for d in at.dataframe[1:]]
    waived = {r for f in frames if "approved by" in f.columns for r in f["rule"]}
    assert "fairness-four-fifths/four-fifths" in waived     # the demo's waiver file
    rules_tables = [f for f in frames if {"rule", "metric", "expects"} <= set(f.columns)]
    assert rules_tables and all(len(f) > 0 for f in rules_tables)


def test_the_cards_page_shows_missing_fields_as_missing_and_the_ledger_head(
        signed_in, dashboard_home: Home) -> None:
    from raigov.ledger.verify import audit_verify

    at = signed_in("vera", page="cards")
    no_failures(at)
    texts = [m.value for m in at.markdown]
    assert any(t.startswith("**License**: :gray[missing]") for t in texts)
    result = audit_verify(dashboard_home)
    assert at.code[0].value == result.head_hash
    assert at.success[0].value.startswith("Ledger verified")


def test_exports_are_offered_to_auditors_and_refused_to_viewers(dashboard_home: Home) -> None:
    from raigov.dashboard import actions
    from raigov.users import AccessDeniedError, get_user

    with pytest.raises(AccessDeniedError, match="export"):
        actions.export_card(dashboard_home, get_user(dashboard_home, "vera"), "credit-risk",
                            fmt="md")
    assert actions.exports_available()
    otto = get_user(dashboard_home, "otto")
    assert "credit-risk" in actions.export_card(dashboard_home, otto, "credit-risk", fmt="md")
    report = actions.export_report(dashboard_home, otto, "credit-risk", fmt="json")
    assert json.loads(report)
    with catalog(dashboard_home, read_only=True) as con:
        last = read_events(con)[-1]
    assert (last.kind, last.actor) == ("report.exported", "otto")


def test_an_auditor_gets_download_buttons_for_cards_and_reports(signed_in) -> None:
    from raigov.dashboard import actions

    assert actions.exports_available()
    at = signed_in("otto", page="cards")
    no_failures(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == [f"Model card ({f})" for f in actions.CARD_FORMATS] + \
        [f"Audit report ({f})" for f in actions.REPORT_FORMATS]


def test_a_removed_user_loses_access_at_once(signed_in, dashboard_home: Home) -> None:
    from raigov.users import remove_user

    at = signed_in("vera", page="fleet")
    remove_user(dashboard_home, "vera", actor="ada")
    at.run()
    assert [t.value for t in at.title] == ["Sign in to raigov"]
    assert "raigov_session" not in at.session_state and not at.dataframe


OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                         "cookie_secret": "not-a-secret", "client_id": "raigov",
                         "client_secret": "x", "server_metadata_url":
                             "https://id.example.org/.well-known/openid-configuration"}}


def test_with_an_oidc_provider_the_identitys_email_must_be_a_raigov_user(
        dashboard_home: Home) -> None:
    from raigov.users import add_user
    from tests.dashboard.conftest import app_test

    at = app_test()
    at.secrets.update(OIDC_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.text_input
    at.user = {"is_logged_in": True, "email": "ann@example.org", "name": "Ann",
               "email_verified": True, "iss": "https://id.example.org"}
    at.run()
    assert [t.value for t in at.title] == ["Sign in to raigov"] and not at.metric
    assert "not a raigov user" in at.info[0].value
    add_user(dashboard_home, "ann@example.org", role="viewer", password=None, actor="ada")
    at.run()
    no_failures(at)
    assert [t.value for t in at.title] == ["Fleet"]


def test_a_tampered_ledger_shows_as_failed_on_the_audit_page(signed_in,
                                                            dashboard_home: Home) -> None:
    with catalog(dashboard_home) as con:
        con.execute("UPDATE ledger SET actor = 'mallory' WHERE seq = 2")
    at = signed_in("otto", page="cards")
    assert not at.success
    assert at.error[0].value.startswith("Ledger verification failed")
    assert "event 2" in at.error[0].value
