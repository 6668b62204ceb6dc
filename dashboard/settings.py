"""The dashboard's settings, declared once with their help text and read from the
environment (``raigov dashboard`` sets ``RAIGOV_HOME``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from raigov.errors import ConfigError
from raigov.home import Home

BAD_SETTING = "Setting {env}={value!r} is not a number: {help}"


@dataclass(frozen=True)
class Setting:
    env: str
    default: float
    help: str

    def read(self) -> float:
        raw = os.environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(BAD_SETTING.format(env=self.env, value=raw, help=self.help)) from None


SESSION_MINUTES = Setting("RAIGOV_SESSION_MINUTES", 60.0,
                          "sign a person out after this many idle minutes")
CACHE_TTL_S = Setting("RAIGOV_DASHBOARD_TTL_S", 30.0,
                      "seconds a cached read of the catalog or lake stays fresh")
LOGIN_DELAY_S = Setting("RAIGOV_LOGIN_DELAY_S", 1.0,
                        "delay after the first failed sign-in; it doubles with each "
                        "further failure for the same name")
LOGIN_DELAY_MAX_S = Setting("RAIGOV_LOGIN_DELAY_MAX_S", 30.0,
                            "the longest delay between sign-in attempts for one name")
SETTINGS = (SESSION_MINUTES, CACHE_TTL_S, LOGIN_DELAY_S, LOGIN_DELAY_MAX_S)


def home_root() -> str:
    """The home the dashboard shows, as a string (a cache key)."""
    return str(Home.resolve(None).root)


def home() -> Home:
    return Home.resolve(home_root())


def cache_ttl_s() -> float:
    return CACHE_TTL_S.read()
