"""Model cards and audit: a model's card (the registry's card metadata, missing
fields shown as missing, plus its latest figures), card and report downloads for
auditors and admins, and the ledger's verification status and head hash."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from raigov.dashboard import actions, queries, settings, ui
from raigov.dashboard.shape import fairness as fairness_shape
from raigov.dashboard.shape import governance
from raigov.dashboard.shape import model as model_shape
from raigov.errors import RaigovError
from raigov.users import User

MISSING_TEXT = ":gray[missing]"
MISSING_SUMMARY = "Missing from the card: {fields}. Fill them in the model's spec (card:)."
NO_EXPORT = "Your role ({role}) cannot export; auditors and admins can."
MIMES = {"md": "text/markdown", "html": "text/html", "json": "application/json",
         "pdf": "application/pdf"}

user = ui.require_user()
st.title("Model cards and audit")
root = ui.root()
try:
    models = queries.models(root)
except RaigovError as exc:
    ui.stop_on_error(exc)
if models.empty:
    st.info("No model is registered yet.")
    st.stop()
model = st.selectbox("Model", models["model"].tolist(), key="card_model")
version = int(models.loc[models["model"] == model, "version"].iloc[0])
try:
    spec = queries.spec(root, model, version)
    metrics = queries.metrics(root, model=model, version=version)
except RaigovError as exc:
    ui.stop_on_error(exc)

card_tab, export_tab, ledger_tab = st.tabs(["Model card", "Exports", "Ledger"])
with card_tab:
    st.header(f"{ui.md(model)} · version {version}", anchor=False)
    missing = governance.missing_card_fields(spec.card)
    if missing:
        st.warning(MISSING_SUMMARY.format(fields=", ".join(missing)))
    for label, text in governance.card_fields(spec.card):
        st.markdown(f"**{label}**: " + (ui.md(text) if text else MISSING_TEXT))
    st.markdown("**Model details**")
    st.table({"output kind": [spec.output_kind], "threshold": [spec.threshold],
              "features": [ui.md(", ".join(spec.features))],
              "sensitive attributes": [ui.md(", ".join(spec.sensitive) or "none")],
              "tags": [ui.md(", ".join(spec.tags) or "none")]})
    st.markdown("**Latest figures**")
    ui.table(model_shape.latest_performance(metrics))
    for attribute in fairness_shape.attributes(metrics):
        rows = fairness_shape.disparity_series(metrics, metric="demographic_parity_ratio",
                                               attribute=attribute)
        if not rows.empty:
            last = rows.iloc[-1]
            st.text(f"demographic parity ratio of {attribute}: {ui.num(last['value'])} "
                    f"({last['status']}, window {ui.day(last['window_start'])})")


def _download(label: str, data: Callable[[], bytes | str], name: str, fmt: str,
              key: str) -> None:
    st.download_button(label, data=data, file_name=name, mime=MIMES[fmt], key=key,
                       on_click="ignore", icon=":material/download:")


def _exports(me: User) -> None:
    home = settings.home()
    if not actions.exports_available():
        st.info(actions.REPORTS_MISSING + " The card above is what exists now.")
        return
    if not me.can("export"):
        st.caption(NO_EXPORT.format(role=me.role))
        return
    cols = st.columns(len(actions.CARD_FORMATS))
    for col, fmt in zip(cols, actions.CARD_FORMATS):
        with col:
            _download(f"Model card ({fmt})",
                      lambda fmt=fmt: actions.export_card(home, me, model, fmt=fmt),
                      f"{model}-card.{fmt}", fmt, f"card_{fmt}")
    cols = st.columns(len(actions.REPORT_FORMATS))
    for col, fmt in zip(cols, actions.REPORT_FORMATS):
        with col:
            _download(f"Audit report ({fmt})",
                      lambda fmt=fmt: actions.export_report(home, me, model, fmt=fmt),
                      f"{model}-report.{fmt}", fmt, f"report_{fmt}")


with export_tab:
    _exports(user)

with ledger_tab:
    try:
        with st.spinner("Verifying the ledger..."):
            status = queries.ledger_status(root)
            events = queries.ledger_events(root, limit=100)
    except RaigovError as exc:
        ui.stop_on_error(exc)
    if status["ok"]:
        st.success(ui.md(status["describe"]), icon=":material/verified:")
    else:
        st.error(ui.md(status["describe"]), icon=":material/gpp_bad:")
    cols = st.columns(3)
    cols[0].metric("Events", status["events"])
    cols[1].metric("Head event", status["head_seq"])
    cols[2].metric("Checkpoints", status["checkpoints"])
    st.markdown("**Head hash**")
    st.code(status["head_hash"], language=None)
    for warning in status["warnings"]:
        st.warning(ui.md(warning))
    for problem in status["problems"]:
        st.error(ui.md(problem))
    st.markdown("**Latest events**")
    ui.table(events)
