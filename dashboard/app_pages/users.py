"""Users (admins only): who may sign in, with which role; add users, change roles,
remove users. Every change is a ledger event with the admin as the actor."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import actions, queries, settings, ui
from raigov.errors import RaigovError
from raigov.users import PERMISSIONS, ROLES

ROLE_HELP = {"viewer": "reads every page", "auditor": "reads and exports cards and reports",
             "owner": "reads, acknowledges and resolves alerts, disables and enables models",
             "admin": "everything, users and waivers included"}
DONE = "{what} {name}."

user = ui.require_user("users.manage")
st.title("Users")
root = ui.root()
notice = st.session_state.pop("users_notice", None)
if notice:
    st.success(ui.md(notice))


def _run(what: str, name: str, change) -> None:
    try:
        change()
    except RaigovError as exc:
        st.error(str(exc))
        return
    queries.refresh()
    st.session_state["users_notice"] = DONE.format(what=what, name=name)
    st.rerun()


try:
    people = queries.users(root)
except RaigovError as exc:
    ui.stop_on_error(exc)
ui.table(people)
st.table({"role": list(ROLES), "may": [ROLE_HELP[r] for r in ROLES],
          "permissions": [", ".join(sorted(PERMISSIONS[r])) for r in ROLES]})

home = settings.home()
add, change = st.columns(2)
with add, st.form("add_user", clear_on_submit=True):
    st.markdown("**Add a user**")
    name = st.text_input("Name", key="new_user_name")
    role = st.selectbox("Role", ROLES, key="new_user_role")
    password = st.text_input("Password (empty: signs in through OIDC only)", type="password",
                             key="new_user_password")
    if st.form_submit_button("Add user", type="primary"):
        _run("Added", name, lambda: actions.create_user(home, user, name.strip(), role=role,
                                                        password=password or None))
with change, st.form("change_user"):
    st.markdown("**Change or remove a user**")
    who = st.selectbox("User", people["name"].tolist(), key="change_user_name")
    new_role = st.selectbox("New role", ROLES, key="change_user_role")
    left, right = st.columns(2)
    if left.form_submit_button("Change role"):
        _run(f"Role {new_role} for", who,
             lambda: actions.change_role(home, user, who, role=new_role))
    if right.form_submit_button("Remove user"):
        _run("Removed", who, lambda: actions.delete_user(home, user, who))
