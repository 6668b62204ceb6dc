"""The kill switch: an owner or admin disables a model version with a reason (the
ledger records it; ``raigov serve`` answers that version's next request with 503),
or enables it again."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import actions, queries, settings, ui
from raigov.dashboard.sections.context import ModelView
from raigov.errors import RaigovError

DISABLED = "Version {version} is disabled: {reason} (by {actor}, {since})."
ENABLED = "Version {version} is enabled: it answers prediction requests."
NOT_ALLOWED = "Only owners and admins can use the kill switch; your role is {role}."
DONE_DISABLED = "Disabled {model} version {version}. Serving refuses its requests (503)."
DONE_ENABLED = "Enabled {model} version {version}."


def _state(view: ModelView) -> dict | None:
    status = queries.disabled(view.root)
    return status.get(f"{view.model}@{view.version}") or status.get(view.model)


def draw(view: ModelView) -> None:
    state = _state(view)
    title = "Kill switch: disabled" if state else "Kill switch"
    with st.expander(title, icon=":material/power_settings_new:", expanded=bool(state)):
        if state:
            st.error(ui.md(DISABLED.format(version=view.version, reason=state["reason"],
                                           actor=state["actor"], since=ui.when(state["since"]))))
        else:
            st.success(ENABLED.format(version=view.version))
        if not view.user.can("model.toggle"):
            st.caption(NOT_ALLOWED.format(role=view.user.role))
        with st.form(f"kill_{view.key}"):
            reason = st.text_input("Reason (required to disable)", key=f"kill_reason_{view.key}")
            label = "Enable this version" if state else "Disable this version"
            go = st.form_submit_button(label, type="primary")   # the action checks the role
        if go:
            _toggle(view, enable=bool(state), reason=reason)


def _toggle(view: ModelView, *, enable: bool, reason: str) -> None:
    try:
        actions.set_enabled(settings.home(), view.user, view.model, enabled=enable,
                            version=view.version, reason=None if enable else reason)
    except RaigovError as exc:
        st.error(str(exc))
        return
    queries.refresh()
    done = DONE_ENABLED if enable else DONE_DISABLED
    st.session_state["model_notice"] = done.format(model=view.model, version=view.version)
    st.rerun()

