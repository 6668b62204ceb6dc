"""Model: pick a model, version and window; see performance over time, drift per
feature (and Evidently's report on demand), fairness per attribute and intersection,
data quality, feature importance, and explore single predictions. Owners and admins
find the kill switch here."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import queries, ui
from raigov.dashboard.sections import drift, explain, fairness, kill_switch, performance, predictions
from raigov.dashboard.sections import quality, slices
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape import model as shape
from raigov.errors import RaigovError

NO_MODELS = "No model is registered yet."
NO_WINDOWS = "No monitoring window has been computed for this version yet (raigov monitor run)."
CAPTION = "{model} version {version}: {kind}, {features} features, sensitive: {sensitive}"
SECTIONS = {"Performance": performance, "Drift": drift, "Fairness": fairness,
            "Data quality": quality, "Explanations": explain, "Predictions": predictions,
            "Weak slices": slices}

user = ui.require_user()
st.title("Model")
root = ui.root()
notice = st.session_state.pop("model_notice", None)
if notice:
    st.success(ui.md(notice))
try:
    models = queries.models(root)
except RaigovError as exc:
    ui.stop_on_error(exc)
if models.empty:
    st.info(NO_MODELS)
    st.stop()

left, middle, right = st.columns([3, 1, 2])
model = left.selectbox("Model", models["model"].tolist(), key="model", bind="query-params")
try:
    version = middle.selectbox("Version", queries.versions(root, model), key=f"version_{model}")
    with st.spinner("Reading the model's figures..."):
        spec = queries.spec(root, model, version)
        metrics = queries.metrics(root, model=model, version=version)
except RaigovError as exc:
    ui.stop_on_error(exc)
windows = shape.windows(metrics)
window = right.selectbox("Window", windows, format_func=ui.day, key=f"window_{model}_{version}")
view = ModelView(root=root, model=model, version=version, spec=spec, metrics=metrics,
                 window=window, user=user)
st.caption(ui.md(CAPTION.format(model=model, version=version, kind=spec.output_kind,
                                features=len(spec.features),
                                sensitive=", ".join(spec.sensitive) or "none")))

kill_switch.draw(view)
if not windows:
    st.info(NO_WINDOWS)
    st.stop()
tabs = st.tabs(list(SECTIONS), key="model_tab", on_change="rerun")
for tab, section in zip(tabs, SECTIONS.values()):
    if tab.open is False:
        continue
    with tab:
        section.draw(view)
