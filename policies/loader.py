"""Load policy files: YAML -> :class:`~raigov.policies.schema.Policy`, or a
:class:`PolicyError` whose every message names the file, the line and the field and
says what was expected (lazy: all problems of all files at once).

The policy hash is the SHA-256 of the file's bytes, exactly as stored: anyone can
check it with ``sha256sum``, and a changed comment is a changed policy text (the
reviewed artefact is the file, comments included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from raigov.file_problems import show_value
from raigov.policies.load_errors import PolicyError, PolicyProblem, ProblemCollector
from raigov.policies.schema import (WAIVER_NEEDS_POLICY, WAIVER_POLICY_WITH_RULES, Policy,
                                    PolicyFile, is_waiver_file, policy_applies,
                                    select_policies)
from raigov.yaml_positions import YamlDocument, YamlSyntaxError, parse_yaml
from raigov.canonical import sha256_hex
from raigov.errors import did_you_mean
from raigov.file_problems import UnreadableFile, read_utf8

__all__ = ["PolicyError", "PolicyProblem", "load_policies", "load_policy", "pack_paths",
           "policy_applies", "select_policies"]

PACKS_DIR = Path(__file__).parent / "packs"

INVALID_YAML = "Invalid YAML in {path}, line {line}, column {column}{near}: {problem}.{hint}"
NOT_A_MAPPING = ("Policy file {path} (line {line}, top level) must be a mapping with the "
                 "fields 'policy', 'version', 'applies_to' and 'rules', got {got}.")
UNKNOWN_WAIVER_RULE = ("Waiver for unknown rule '{rule}' in field 'rule' of {where} ({path}, "
                       "line {line}).{hint} Rules in this policy: {rules}.")
DUPLICATE_RULE = ("Duplicate rule id '{rule}' in field 'id' of {where} ({path}, line {line}); "
                  "rule ids must be unique within a policy (first at line {first}).")
DUPLICATE_KEY = ("Duplicate field '{field}' in {where} ({path}, line {line}); first at line "
                 "{first}, and YAML would silently keep only the last one.")
DUPLICATE_POLICY = ("Policy '{policy}' is defined twice ({path}, line {line}, field 'policy'): "
                    "first in {first}.")
UNKNOWN_WAIVER_POLICY = ("Waiver for policy '{policy}' in field 'policy' of {where} ({path}, "
                         "line {line}), which is not among the policies loaded with it.{hint} "
                         "Policies: {policies}.")
WAIVER_FILE_PROBLEM = "{detail}: field '{field}' of {where} ({path}, line {line})."
QUOTE_OPERATOR_HINT = ' Quote operators in YAML, e.g. op: ">=".'

def pack_paths() -> list[Path]:
    """The policy packs shipped with raigov (``policies/packs/*.yaml``)."""
    return sorted(PACKS_DIR.glob("*.yaml"))


def load_policy(path: str | Path) -> Policy:
    """Load and validate one policy file."""
    shown = str(path)
    try:
        text = read_utf8(path, what="Policy")
    except UnreadableFile as exc:
        raise PolicyError([PolicyProblem(shown, exc.line, "", exc.kind, exc.message)]) from None
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise PolicyError([_yaml_problem(exc, shown)]) from None
    return _build(doc, path=shown, sha256=sha256_hex(text.encode("utf-8")))  # the file bytes


def load_policies(paths: Iterable[str | Path]) -> list[Policy]:
    """Load several policy files; report the problems of all of them together."""
    policies: list[Policy] = []
    problems: list[PolicyProblem] = []
    first: dict[str, Policy] = {}
    for path in paths:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        if policy.policy in first:
            problems.append(PolicyProblem(policy.path, policy.line, "policy", "duplicate_policy",
                                          DUPLICATE_POLICY.format(
                                              policy=policy.policy, path=policy.path,
                                              line=policy.line,
                                              first=first[policy.policy].path)))
            continue
        first[policy.policy] = policy
        policies.append(policy)
    problems.extend(_check_waiver_files(policies))
    if problems:
        raise PolicyError(problems)
    return policies


def _yaml_problem(exc: YamlSyntaxError, path: str) -> PolicyProblem:
    near = f" (field '{exc.key}')" if exc.key else ""
    hint = QUOTE_OPERATOR_HINT if "block scalar" in exc.problem else ""
    message = INVALID_YAML.format(path=path, line=exc.line, column=exc.column, near=near,
                                  problem=exc.problem, hint=hint)
    return PolicyProblem(path, exc.line, exc.key or "", "invalid_yaml", message)


def _build(doc: YamlDocument, *, path: str, sha256: str) -> Policy:
    data = doc.data
    if not isinstance(data, dict):
        got = "an empty file" if data is None else show_value(data)
        raise PolicyError([PolicyProblem(path, 1, "", "not_a_mapping",
                                         NOT_A_MAPPING.format(path=path, line=1, got=got))])
    ctx = ProblemCollector(doc, path)
    for loc, line, first in doc.duplicates:
        where, field = ctx.where(loc)
        ctx.add(loc, "duplicate_field", DUPLICATE_KEY.format(
            field=field, where=where, path=path, line=line, first=first), line=line)
    header = ctx.validate(PolicyFile, data, ())
    rules = [ctx.rule(raw, index) for index, raw in enumerate(_list(data.get("rules")))]
    typed = [r for r in rules if r is not None]
    _check_ids(ctx, data)
    _check_waivers(ctx, data)
    if ctx.problems:
        raise PolicyError(sorted(ctx.problems, key=lambda p: p.line))
    assert header is not None
    fields = {k: getattr(header, k) for k in ("policy", "version", "description",
                                             "applies_to", "references", "waivers")}
    lines = tuple((r.id, doc.line_of(("rules", i))) for i, r in enumerate(rules) if r)
    waiver_lines = tuple(doc.line_of(("waivers", i, "rule")) for i in range(len(header.waivers)))
    return Policy(**fields, rules=tuple(typed), path=path, sha256=sha256,
                  line=doc.line_of(("policy",)), rule_lines=lines, waiver_lines=waiver_lines)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _check_ids(ctx: ProblemCollector, data: dict[str, Any]) -> None:
    seen: dict[str, int] = {}
    for index, raw in enumerate(_list(data.get("rules"))):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(rule_id, str):
            continue
        loc = ("rules", index, "id")
        if rule_id in seen:
            where, _ = ctx.where(loc)
            ctx.add(loc, "duplicate_rule", DUPLICATE_RULE.format(
                rule=rule_id, where=where, path=ctx.path, line=ctx.doc.line_of(loc),
                first=seen[rule_id]))
        else:
            seen[rule_id] = ctx.doc.line_of(loc)


def _check_waivers(ctx: ProblemCollector, data: dict[str, Any]) -> None:
    ids = [r["id"] for r in _list(data.get("rules"))
           if isinstance(r, dict) and isinstance(r.get("id"), str)]
    for index, raw in enumerate(_list(data.get("waivers"))):
        if not isinstance(raw, dict):
            continue
        named = raw.get("policy")
        if not _list(data.get("rules")):   # a waiver file: the rule is another policy's
            if named is None:
                _waiver_file_problem(ctx, ("waivers", index), "waiver_needs_policy",
                                     WAIVER_NEEDS_POLICY)
            continue
        if named is not None:
            _waiver_file_problem(ctx, ("waivers", index, "policy"), "waiver_policy_with_rules",
                                 WAIVER_POLICY_WITH_RULES)
        rule = raw.get("rule")
        if not isinstance(rule, str) or not rule or rule in ids:
            continue
        loc = ("waivers", index, "rule")
        where, _ = ctx.where(loc)
        ctx.add(loc, "unknown_waiver_rule", UNKNOWN_WAIVER_RULE.format(
            rule=rule, where=where, path=ctx.path, line=ctx.doc.line_of(loc),
            hint=did_you_mean(rule, ids), rules=", ".join(f"'{i}'" for i in ids)))




def _waiver_file_problem(ctx: ProblemCollector, loc: tuple[Any, ...], code: str,
                         detail: str) -> None:
    where, _ = ctx.where(loc)
    ctx.add(loc, code, WAIVER_FILE_PROBLEM.format(
        detail=detail[0].upper() + detail[1:], field="policy", where=where, path=ctx.path,
        line=ctx.doc.line_of(loc)))


def _check_waiver_files(policies: list[Policy]) -> list[PolicyProblem]:
    """Every waiver of a waiver file names a policy loaded with it, and a rule of it."""
    by_name = {p.policy: p for p in policies if not is_waiver_file(p)}
    problems = []
    for policy in (p for p in policies if is_waiver_file(p)):
        for index, waiver in enumerate(policy.waivers):
            line = policy.waiver_lines[index] if index < len(policy.waiver_lines) else policy.line
            where = f"waivers[{index}] (rule '{waiver.rule}')"
            target = by_name.get(waiver.policy or "")
            if target is None:
                problems.append(PolicyProblem(policy.path, line, "policy", "unknown_waiver_policy",
                                              UNKNOWN_WAIVER_POLICY.format(
                    policy=waiver.policy, where=where, path=policy.path, line=line,
                    hint=did_you_mean(str(waiver.policy), list(by_name)),
                    policies=", ".join(f"'{n}'" for n in by_name) or "none")))
                continue
            ids = [r.id for r in target.rules]
            if waiver.rule not in ids:
                problems.append(PolicyProblem(policy.path, line, "rule", "unknown_waiver_rule",
                                              UNKNOWN_WAIVER_RULE.format(
                    rule=waiver.rule, where=f"{where} for policy '{target.policy}'",
                    path=policy.path, line=line, hint=did_you_mean(waiver.rule, ids),
                    rules=", ".join(f"'{i}'" for i in ids))))
    return problems
