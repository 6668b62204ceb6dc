"""Policies as code: policy files, rule types, evaluation, alerts, waivers, policy-check."""
