"""The policy file schema as frozen pydantic models.

:class:`PolicyFile` is what a YAML file may say (rules still raw: each is checked
against its own rule type by the loader); :class:`Policy` is the loaded result,
rules typed, plus where it came from (path, SHA-256 of the file bytes, the line of
every rule) so each finding can name the exact policy text it was judged against.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from raigov.policies.rules import Rule

APPLIES_TO_EMPTY = "applies_to needs 'models', 'tags' or both"
NO_RULES_NOR_WAIVERS = ("a policy file needs 'rules', or 'waivers' alone (a waiver file, "
                        "whose every waiver names the 'policy' it waives a rule of)")
WAIVER_NEEDS_POLICY = ("a waiver in a file without rules (a waiver file) must name the "
                       "'policy' whose rule it waives")
WAIVER_POLICY_WITH_RULES = ("'policy' in a waiver names another policy's rule; it belongs "
                            "in a waiver file (one without rules), not beside this "
                            "policy's own rules")
ALL_MODELS = "*"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AppliesTo(_Frozen):
    """Which models a policy judges: named models (``"*"``: every model) and/or
    models carrying any of the tags."""

    models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> "AppliesTo":
        if not self.models and not self.tags:
            raise PydanticCustomError("applies_to_empty", APPLIES_TO_EMPTY)
        return self


class Waiver(_Frozen):
    """A time-boxed, approved exception to one rule. Every field is required: an
    exception nobody approved, without a reason or without an end is not a waiver."""

    rule: str = Field(min_length=1)
    policy: str | None = Field(default=None, min_length=1)  # only in a waiver file
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: dt.date

    def is_active(self, *, today: dt.date) -> bool:
        """Valid through its expiry date, inclusive."""
        return today <= self.expires

    def as_dict(self, *, today: dt.date) -> dict[str, Any]:
        return {"rule": self.rule, "reason": self.reason, "approved_by": self.approved_by,
                "expires": self.expires.isoformat(), "active": self.is_active(today=today),
                **({"policy": self.policy} if self.policy else {})}


class _PolicyFields(_Frozen):
    policy: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: int = Field(ge=0, strict=True)
    description: str = ""
    applies_to: AppliesTo
    references: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()


class PolicyFile(_PolicyFields):
    """The YAML schema. ``rules`` are mappings here; each is validated by the model
    class of its rule type (``type``, default ``threshold``)."""

    rules: tuple[dict[str, Any], ...] = ()

    @model_validator(mode="after")
    def _rules_or_waivers(self) -> "PolicyFile":
        if not self.rules and not self.waivers:
            raise PydanticCustomError("no_rules_nor_waivers", NO_RULES_NOR_WAIVERS)
        return self


class Policy(_PolicyFields):
    """A loaded policy: typed rules plus its source. Without rules it is a waiver
    file: its waivers name the policies they waive rules of, and
    :func:`select_policies` hands them to those policies for the models it applies to."""

    rules: tuple[Rule, ...] = ()
    path: str = "<memory>"
    sha256: str = ""
    line: int = 1
    rule_lines: tuple[tuple[str, int], ...] = ()  # (rule id, line): hashable, frozen
    waiver_lines: tuple[int, ...] = ()            # the line of each waiver's ``rule``

    def rule_line(self, rule_id: str) -> int | None:
        """The line of the rule's ``- id:`` item in the policy file, when known."""
        return dict(self.rule_lines).get(rule_id)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def references_for(self, rule: Rule) -> tuple[str, ...]:
        """The rule's own references, then the policy's, without repeats."""
        return tuple(dict.fromkeys((*rule.references, *self.references)))


def policy_applies(policy: Policy, *, model: str, tags: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``policy`` judges ``model`` (by name, ``"*"``, or any shared tag)."""
    wanted = policy.applies_to
    return (model in wanted.models or ALL_MODELS in wanted.models
            or bool(set(wanted.tags) & set(tags)))


def is_waiver_file(policy: Policy) -> bool:
    """A file of waivers only: it judges nothing itself."""
    return not policy.rules


def select_policies(policies: list[Policy] | tuple[Policy, ...], *, model: str,
                    tags: tuple[str, ...] | list[str] = ()) -> list[Policy]:
    """The policies among ``policies`` that apply to ``model``, each with the waivers of
    the waiver files that apply to ``model`` too."""
    return with_waiver_files([p for p in policies if policy_applies(p, model=model, tags=tags)])


def with_waiver_files(policies: list[Policy] | tuple[Policy, ...]) -> list[Policy]:
    """The policies that hold rules, each given the waivers that waiver files among
    ``policies`` hold for it (after its own)."""
    extra: dict[str, list[Waiver]] = {}
    for policy in policies:
        if is_waiver_file(policy):
            for waiver in policy.waivers:
                extra.setdefault(waiver.policy or "", []).append(waiver)
    return [p.model_copy(update={"waivers": (*p.waivers, *extra[p.policy])})
            if p.policy in extra else p for p in policies if not is_waiver_file(p)]
