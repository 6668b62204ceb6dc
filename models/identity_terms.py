"""Identity groups that a text mentions rather than declares.

A text column may name ``identity_terms``: ``civil_comments`` (the shipped default, the
nine identities of the Civil Comments bias benchmark of Borkan et al. 2019, each with a
list of terms) or its own mapping of group -> terms. Capture turns them into one boolean
membership column per group, ``<column>_mentions_<group>``, true where the text holds
one of the group's terms as a whole word (case-insensitive; a term of several words
matches across any whitespace). The fairness family's bias AUCs read these columns as
overlapping groups of the attribute ``<column>_mentions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec

DEFAULT_LIST = "civil_comments"
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BAD_GROUP = ("identity_terms of column {column!r}: group {group!r} must be lower-case "
             "letters, digits and '_' (it names the column {column}_mentions_<group>)")
NO_TERMS = "identity_terms of column {column!r}: group {group!r} lists no terms"
UNKNOWN_LIST = ("identity_terms of column {column!r}: unknown list {name!r}; give "
                "'civil_comments' or a mapping of group -> terms")

#: The nine identities of the Civil Comments benchmark (Borkan et al. 2019), with terms.
CIVIL_COMMENTS: dict[str, tuple[str, ...]] = {
    "male": ("man", "men", "male", "males", "boy", "boys", "husband", "husbands", "father",
             "fathers", "son", "sons", "brother", "brothers", "gentleman", "gentlemen"),
    "female": ("woman", "women", "female", "females", "girl", "girls", "wife", "wives",
               "mother", "mothers", "daughter", "daughters", "sister", "sisters", "lady",
               "ladies"),
    "homosexual_gay_or_lesbian": ("gay", "gays", "lesbian", "lesbians", "homosexual",
                                  "homosexuals", "queer", "lgbt", "lgbtq", "bisexual"),
    "christian": ("christian", "christians", "christianity", "catholic", "catholics",
                  "protestant", "protestants", "evangelical", "evangelicals"),
    "jewish": ("jew", "jews", "jewish", "judaism"),
    "muslim": ("muslim", "muslims", "islam", "islamic"),
    "black": ("black", "blacks", "african american", "african americans"),
    "white": ("white", "whites", "caucasian", "caucasians"),
    "psychiatric_or_mental_illness": ("mentally ill", "mental illness", "mental illnesses",
                                      "psychiatric", "schizophrenic", "schizophrenia",
                                      "bipolar"),
}
SHIPPED_LISTS = {DEFAULT_LIST: CIVIL_COMMENTS}


@dataclass(frozen=True)
class Membership:
    """One membership column: ``name`` is ``<column>_mentions_<group>``."""

    column: str
    group: str
    terms: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.column}_mentions_{self.group}"

    @property
    def attribute(self) -> str:
        return f"{self.column}_mentions"


def resolve_terms(column: str, value: object) -> dict[str, tuple[str, ...]]:
    """The group -> terms mapping a column's ``identity_terms`` stands for (a
    ValueError names the column and the bad group)."""
    if isinstance(value, str):
        if value not in SHIPPED_LISTS:
            raise ValueError(UNKNOWN_LIST.format(column=column, name=value))
        return SHIPPED_LISTS[value]
    out: dict[str, tuple[str, ...]] = {}
    for group, terms in dict(value).items():  # type: ignore[call-overload]
        if not GROUP_NAME.match(str(group)):
            raise ValueError(BAD_GROUP.format(column=column, group=group))
        terms = tuple(str(t).strip() for t in terms if str(t).strip())
        if not terms:
            raise ValueError(NO_TERMS.format(column=column, group=group))
        out[str(group)] = terms
    return out


def memberships(spec: "ModelSpec") -> list[Membership]:
    """Every membership column the spec's text columns declare, in column order."""
    out = []
    for col in spec.inputs.columns:
        if col.identity_terms is not None and col.name in spec.input_columns:
            out += [Membership(col.name, group, terms)
                    for group, terms in resolve_terms(col.name, col.identity_terms).items()]
    return out


@lru_cache(maxsize=256)
def term_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive alternation of ``terms`` (spaces match any run of
    whitespace)."""
    parts = sorted((r"\s+".join(map(re.escape, t.split())) for t in terms), key=len,
                   reverse=True)
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


def mentions(texts: "pd.Series", terms: tuple[str, ...]) -> np.ndarray:
    """Whether each text mentions one of ``terms`` (a missing text mentions nothing)."""
    pattern = term_pattern(terms)
    return np.fromiter((isinstance(t, str) and pattern.search(t) is not None for t in texts),
                       dtype=bool, count=len(texts))


def membership_frame(spec: "ModelSpec", frame: "pd.DataFrame") -> dict[str, np.ndarray]:
    """Membership column name -> booleans for the rows of ``frame``."""
    return {m.name: mentions(frame[m.column], m.terms) for m in memberships(spec)}


def with_memberships(spec: "ModelSpec", frame: "pd.DataFrame") -> "pd.DataFrame":
    """``frame`` with any membership column it lacks derived from its text."""
    missing = [m for m in memberships(spec) if m.name not in frame.columns]
    if not missing:
        return frame
    return frame.assign(**{m.name: mentions(frame[m.column], m.terms) for m in missing})
