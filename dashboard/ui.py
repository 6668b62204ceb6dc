"""Small drawing helpers the pages share: data text shown literally, raigov errors
shown as messages (errors are translated here, at the page edge), number formats."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from raigov.dashboard import auth, settings
from raigov.errors import RaigovError
from raigov.users import User

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'])")
TIME_COLUMN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", timezone="UTC")
NUMBER_COLUMN = st.column_config.NumberColumn(format="%.4g")
PAGE_DENIED = ("{name} (role {role}) may not open this page: it needs the "
               "'{permission}' permission.")
NOT_SIGNED_IN = "Sign in to see this page."
DENIED = "Your role ({role}) does not allow this: {action}."


def md(text: Any) -> str:
    """``text`` escaped for Markdown (headers, labels, captions): every mark and tag
    shows literally."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def root() -> str:
    return settings.home_root()


def require_user(permission: str = "read") -> User:
    """The signed-in user, if their role grants ``permission``; otherwise the page
    stops, showing nothing but why. Every page calls this itself: a page opened by its
    URL gets no help from the navigation."""
    user = auth.user()
    if user is None:
        st.warning(NOT_SIGNED_IN)
        st.stop()
    if not user.can(permission):
        st.error(PAGE_DENIED.format(name=user.name, role=user.role, permission=permission))
        st.stop()
    return user


@contextmanager
def shown_errors() -> Iterator[None]:
    """A raigov error inside becomes an error message on the page."""
    try:
        yield
    except RaigovError as exc:
        st.error(str(exc))


def stop_on_error(exc: RaigovError) -> None:
    st.error(str(exc))
    st.stop()


def pct(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.{digits}%}"


def num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def count(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{int(value):,}"


def when(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "n/a"
    moment = pd.Timestamp(value)
    if moment.tzinfo is None:
        moment = moment.tz_localize("UTC")
    return moment.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def day(value: Any) -> str:
    return "n/a" if value is None else pd.Timestamp(value).strftime("%Y-%m-%d")


def delta(latest: Any, previous: Any, *, as_pct: bool = True) -> str | None:
    if latest is None or previous is None or pd.isna(latest) or pd.isna(previous):
        return None
    change = float(latest) - float(previous)
    return f"{change * 100:+.1f} pts" if as_pct else f"{change:+.3f}"


def chart(fig: Any, *, key: str) -> None:
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def table(frame: pd.DataFrame, **options: Any) -> None:
    """A data frame, times shown to the minute in UTC."""
    config = {c: TIME_COLUMN for c in frame.columns
              if pd.api.types.is_datetime64_any_dtype(frame[c])}
    config.update(options.pop("column_config", {}))
    st.dataframe(frame, hide_index=True, column_config=config, **options)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()
