"""Alerts inbox: filter by model, severity and status; open an alert to see why it
fired and its history; acknowledge or resolve it with a comment. Every action is a
ledger event with the signed-in user as the actor."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import actions, queries, settings, ui
from raigov.policies.alerts import ALERT_STATUSES, SEVERITIES
from raigov.errors import RaigovError
from raigov.users import User

ANY = "any"
NO_ALERTS = "No alert matches these filters."
CANNOT_ACT = "Your role ({role}) can read alerts but not acknowledge or resolve them."
DONE = "Alert {alert_id} {verb} by {actor}."
LIST_COLUMNS = ["severity", "status", "model", "policy", "rule_id", "segment", "observed",
                "threshold", "fail_count", "opened_at", "last_seen_at", "alert_id"]

user = ui.require_user()
st.title("Alerts")
root = ui.root()
notice = st.session_state.pop("alerts_notice", None)
if notice:
    st.success(ui.md(notice))

try:
    names = queries.models(root)["model"].tolist()
except RaigovError as exc:
    ui.stop_on_error(exc)
cols = st.columns(3)
model = cols[0].selectbox("Model", [ANY, *names], key="alerts_model")
severity = cols[1].selectbox("Severity", [ANY, *reversed(SEVERITIES)], key="alerts_severity")
status = cols[2].selectbox("Status", [ANY, *ALERT_STATUSES], index=1, key="alerts_status")
try:
    found = queries.alerts(root, model=None if model == ANY else model,
                           status=None if status == ANY else status,
                           severity=None if severity == ANY else severity)
except RaigovError as exc:
    ui.stop_on_error(exc)
if found.empty:
    st.info(NO_ALERTS)
    st.stop()

counts = st.columns(len(SEVERITIES))
for col, level in zip(counts, reversed(SEVERITIES)):
    col.metric(f"{level} ({status})", int((found["severity"] == level).sum()))
ui.table(found[LIST_COLUMNS], height=min(460, 35 * (len(found) + 1) + 3),
         column_config={"observed": ui.NUMBER_COLUMN, "threshold": ui.NUMBER_COLUMN})


def _label(alert_id: str) -> str:
    row = found[found["alert_id"] == alert_id].iloc[0]
    return (f"[{row['severity']}] {row['model']} · {row['policy']}/{row['rule_id']} · "
            f"{row['segment']} · {row['status']} · {alert_id[:13]}")


ids = found["alert_id"].tolist()
# A shared link carries ?alert=<id>. Streamlit's bind="query-params" would put the
# formatted label in the URL and ignore an id, so the id is read and written here.
wanted = st.query_params.get("alert")
chosen = st.selectbox("Open alert", ids, index=ids.index(wanted) if wanted in ids else 0,
                      format_func=_label, key="alert")
st.query_params["alert"] = chosen
alert = found[found["alert_id"] == chosen].iloc[0]


def _act(me: User, verb: str, comment: str) -> None:
    home = settings.home()
    try:
        if verb == "acknowledged":
            actions.acknowledge(home, me, chosen, comment=comment)
        else:
            actions.resolve(home, me, chosen, comment=comment)
    except RaigovError as exc:
        st.error(str(exc))
        return
    queries.refresh()
    st.session_state["alerts_notice"] = DONE.format(alert_id=chosen, verb=verb, actor=me.name)
    st.rerun()


with st.container(border=True):
    st.subheader(f"{ui.md(alert['policy'])} / {ui.md(alert['rule_id'])} on "
                 f"{ui.md(alert['model'])}", anchor=False)
    st.text(alert["reason"])
    facts = st.columns(4)
    facts[0].metric("Observed", ui.num(alert["observed"], 4))
    facts[1].metric("Threshold", ui.num(alert["threshold"], 4))
    facts[2].metric("Failing windows", int(alert["fail_count"]))
    facts[3].metric("Status", alert["status"])
    st.caption(f"Opened {ui.when(alert['opened_at'])} by {ui.md(alert['opened_by'])}; "
               f"last failing window {ui.day(alert['last_seen_window_start'])}; "
               f"segment {ui.md(alert['segment'])}")
    history = queries.alert_history(root, chosen)
    ui.table(history.drop(columns=["alert_id"]))
    can_act = user.can("alert.acknowledge") or user.can("alert.resolve")
    if not can_act:
        st.caption(CANNOT_ACT.format(role=user.role))
    with st.form("alert_action", clear_on_submit=True):
        comment = st.text_area("Comment (required to resolve)", key="alert_comment")
        left, right = st.columns(2)
        # Enabled whatever the role: the action itself checks the role (and says no).
        ack = left.form_submit_button("Acknowledge", disabled=alert["status"] != "open")
        res = right.form_submit_button("Resolve", type="primary",
                                       disabled=alert["status"] == "resolved")
    if ack:
        _act(user, "acknowledged", comment)
    elif res:
        _act(user, "resolved", comment)
