"""Waivers: a time-boxed, approved exception to one rule of one policy.

A waiver covers only its own rule, and only through its expiry date (inclusive). It
turns a ``fail`` or ``insufficient_data`` finding into ``waived`` (the finding keeps
the waiver); an ``error`` is never waived, since an error means nothing was judged
and the cause must be fixed. An expired waiver changes nothing but the reason: the
finding stays failed and says that its waiver expired, when, and whose it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Sequence

from raigov.policies.findings import Finding
from raigov.policies.schema import Waiver

WAIVABLE = ("fail", "insufficient_data")
WAIVED_REASON = "{reason}. Waived until {expires} by {approved_by}: {why}"
EXPIRED_REASON = "{reason}. Waiver expired on {expires} (approved by {approved_by}: {why})"


def active_waiver(waivers: Sequence[Waiver], *, rule_id: str, today: dt.date) -> Waiver | None:
    """The waiver for ``rule_id`` that is valid ``today`` and runs longest, or None."""
    valid = [w for w in waivers if w.rule == rule_id and w.is_active(today=today)]
    return max(valid, key=lambda w: w.expires) if valid else None


def apply_waivers(finding: Finding, waivers: Sequence[Waiver], *, today: dt.date) -> Finding:
    """``finding`` as the waivers of its policy leave it."""
    mine = [w for w in waivers if w.rule == finding.rule_id]
    if not mine or finding.status not in WAIVABLE:
        return finding
    waiver = active_waiver(mine, rule_id=finding.rule_id, today=today)
    if waiver is not None:
        reason = WAIVED_REASON.format(reason=finding.reason, expires=waiver.expires.isoformat(),
                                      approved_by=waiver.approved_by, why=waiver.reason)
        return dataclasses.replace(finding, status="waived", reason=reason,
                                   waiver=waiver.as_dict(today=today))
    latest = max(mine, key=lambda w: w.expires)
    reason = EXPIRED_REASON.format(reason=finding.reason, expires=latest.expires.isoformat(),
                                   approved_by=latest.approved_by, why=latest.reason)
    return dataclasses.replace(finding, reason=reason, waiver=latest.as_dict(today=today))
