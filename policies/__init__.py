"""Policies as code: policy files, rule types, evaluation, alerts, waivers, policy-check."""

# The built-in rule types register on import, like a plugin's would.
from raigov.policies import reference_band as _reference_band  # noqa: E402,F401
