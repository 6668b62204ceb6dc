"""Sign-in page: the name-and-password form, or the OIDC provider's button when
Streamlit's secrets configure one."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from raigov.dashboard import auth, settings

st.title(auth.SIGN_IN_TITLE)
notice = auth.take_notice()
if notice:
    st.info(notice)

if auth.oidc_configured():
    st.write(auth.OIDC_PROMPT)
    config = st.secrets["auth"]
    providers = [name for name, value in config.items() if isinstance(value, Mapping)]
    for provider in providers or [None]:
        label = f"Sign in with {provider}" if provider else "Sign in"
        if st.button(label, key=f"oidc_{provider or 'default'}", type="primary"):
            st.login(provider)
else:
    with st.form("sign_in", clear_on_submit=True):
        name = st.text_input("Name", key="sign_in_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    st.caption(auth.SIGN_IN_HELP)
    if submitted:
        with st.spinner("Checking..."):
            user, problem = auth.sign_in(settings.home(), name, password,
                                         address=auth.client_address())
        if user is None:
            st.error(problem)
        else:
            st.rerun()
