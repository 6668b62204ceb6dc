"""Policies: which policies in force apply to which model; for a model, each policy's
rules, its waivers with their expiry, and the latest finding of every rule."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import queries, ui
from raigov.dashboard.shape import governance
from raigov.errors import RaigovError

NO_POLICIES = ("No policy is in force: copy policy files into <home>/policies "
               "(raigov demo installs the shipped packs).")
NONE_APPLY = "No policy in force applies to this model."
NO_FINDINGS = "No finding yet for this policy and model."
WAIVERS_HELP = ("Waivers live in the policy file (waivers:), reviewed like code; an admin "
                "changes them there. Expired waivers no longer waive anything.")
SOURCE = "{path} · version {version} · sha256 {sha}"
FINDING_STATUS_ORDER = ("fail", "error", "insufficient_data", "waived", "pass")

ui.require_user()
st.title("Policies")
root = ui.root()
try:
    policies = queries.policies(root)
    models = queries.models(root)
except RaigovError as exc:
    ui.stop_on_error(exc)
if not policies:
    st.info(NO_POLICIES)
    st.stop()

pairs = list(zip(models["model"], models["tags"]))
st.subheader("Which policy applies to which model", anchor=False)
ui.table(governance.policy_matrix(policies, pairs).reset_index())

model = st.selectbox("Model", models["model"].tolist(), key="policies_model",
                     bind="query-params")
tags = models.loc[models["model"] == model, "tags"].iloc[0]
mine = governance.policies_for(policies, model=model, tags=tags)
try:
    findings = queries.findings(root, model)
except RaigovError as exc:
    ui.stop_on_error(exc)
if not mine:
    st.info(NONE_APPLY)
    st.stop()

st.subheader(f"Policies applying to {ui.md(model)}", anchor=False)
statuses = findings["status"].value_counts() if not findings.empty else {}
cols = st.columns(len(FINDING_STATUS_ORDER))
for col, status in zip(cols, FINDING_STATUS_ORDER):
    col.metric(status.replace("_", " "), int(statuses.get(status, 0)))

for policy in mine:
    failing = governance.failing(findings, policy.policy)
    title = f"{ui.md(policy.policy)} (version {policy.version})"
    title += " · failing" if failing else ""
    with st.expander(title, expanded=failing,
                     icon=":material/error:" if failing else ":material/check_circle:"):
        if policy.description:
            st.text(policy.description)
        st.caption(ui.md(SOURCE.format(path=policy.path, version=policy.version,
                                       sha=policy.sha256[:12])))
        st.caption(ui.md("Applies to " + governance.applies_to_text(policy)))
        if policy.rules:
            st.markdown("**Rules**")
            ui.table(governance.rules_frame(policy))
            st.markdown("**Latest findings**")
            latest = governance.findings_for(findings, policy.policy)
            if latest.empty:
                st.caption(NO_FINDINGS)
            else:
                ui.table(latest)
        else:
            st.caption(governance.WAIVER_FILE)
        st.markdown("**Waivers**")
        waivers = governance.waivers_frame(policy, today=ui.today())
        if waivers.empty:
            st.caption("none")
        else:
            ui.table(waivers)
        st.caption(WAIVERS_HELP)
        if policy.references:
            st.markdown("**References**")
            for ref in policy.references:
                st.text(ref)
