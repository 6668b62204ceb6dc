"""The dashboard's entry script (``streamlit run dashboard/app.py``; ``raigov
dashboard`` does it for you). It finds the signed-in user and builds the navigation:
signed out, the only page there is is the sign-in page, so no other page runs and no
data is read; signed in, the pages the user's role may see."""

from __future__ import annotations

import streamlit as st

from raigov.dashboard import auth, queries, settings, ui
from raigov.errors import RaigovError
from raigov.plugins import load_plugins
from raigov.users import User

st.set_page_config(page_title="raigov", page_icon=":material/policy:", layout="wide")

SIGNED_IN_AS = "Signed in as **{name}** ({role})"
HOME_CAPTION = "Home: {root}"


def _pages(user: User) -> dict[str, list]:
    pages = {
        "Monitoring": [
            st.Page("app_pages/fleet.py", title="Fleet", icon=":material/dashboard:",
                    default=True),
            st.Page("app_pages/model.py", title="Model", icon=":material/monitoring:"),
            st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:"),
        ],
        "Governance": [
            st.Page("app_pages/policies.py", title="Policies", icon=":material/gavel:"),
            st.Page("app_pages/cards.py", title="Cards and audit",
                    icon=":material/verified:"),
        ],
    }
    if user.can("users.manage"):
        pages["Admin"] = [st.Page("app_pages/users.py", title="Users",
                                  icon=":material/group:")]
    return pages


def _sidebar(user: User) -> None:
    with st.sidebar:
        st.markdown(SIGNED_IN_AS.format(name=ui.md(user.name), role=user.role))
        if st.button("Refresh data", icon=":material/refresh:", key="refresh", width="stretch"):
            queries.refresh()
        if st.button("Sign out", icon=":material/logout:", key="sign_out", width="stretch"):
            auth.sign_out()
            st.rerun()
        st.caption(ui.md(HOME_CAPTION.format(root=settings.home_root())))


def main() -> None:
    try:
        load_plugins(settings.home())   # a plugin's rule types and formats, on every page
        user = auth.current_user(settings.home())
    except RaigovError as exc:
        st.error(str(exc))
        st.stop()
    if user is None:
        sign_in = st.Page("app_pages/sign_in.py", title="Sign in", icon=":material/login:")
        st.navigation([sign_in], position="hidden").run()
        return
    _sidebar(user)
    st.navigation(_pages(user), expanded=True).run()


main()
