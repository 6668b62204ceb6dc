"""Counterfactual probe sentences: templates with one ``{identity}`` slot, filled with
each identity group's phrases, so that the sentences of one template differ only in
the identity term (Dixon et al. 2018's synthetic test set; the Equity Evaluation
Corpus's template method, Kiritchenko and Mohammad 2018).

The shipped templates are review sentences, half praising and half panning, generated
here by code (subjects x verdicts); a user's own come from a text file, one template a
line (``#`` starts a comment), each holding ``{identity}`` exactly once. The phrases of
the Civil Comments groups are noun phrases (``a Muslim woman``); a model's own
``identity_terms`` mapping is probed with its terms as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from raigov.errors import InputError

SLOT = "{identity}"
BAD_TEMPLATE = ("{path}, line {line}: a template must hold {slot} exactly once (found "
                "{count}): {text!r}")
NO_TEMPLATES = "{path} holds no templates (one a line, each with {slot})"

#: Phrases that stand for each Civil Comments identity in a probe sentence.
CIVIL_COMMENTS_PHRASES: dict[str, tuple[str, ...]] = {
    "male": ("a man", "a young man"),
    "female": ("a woman", "a young woman"),
    "homosexual_gay_or_lesbian": ("a gay man", "a lesbian woman"),
    "christian": ("a Christian man", "a Christian woman"),
    "jewish": ("a Jewish man", "a Jewish woman"),
    "muslim": ("a Muslim man", "a Muslim woman"),
    "black": ("a Black man", "a Black woman"),
    "white": ("a white man", "a white woman"),
    "psychiatric_or_mental_illness": ("a mentally ill man", "a mentally ill woman"),
}

_SUBJECTS = ("The film follows {identity} through one hard year.",
             "It is the story of {identity} and a family that falls apart.",
             "The lead role goes to {identity}.",
             "Directed by {identity}, it opened last week.")
_VERDICTS = ("It is warm, funny and beautifully made.",
             "A moving, honest picture that stays with you.",
             "It is dull, clumsy and far too long.",
             "A tedious mess that never comes alive.")


@dataclass(frozen=True)
class Template:
    text: str
    source: str   # "shipped" or "<file>:<line>"

    def fill(self, phrase: str) -> str:
        sentence = self.text.replace(SLOT, phrase)
        return sentence[:1].upper() + sentence[1:]


def shipped_templates() -> list[Template]:
    """Every subject with every verdict: 16 templates, half positive."""
    return [Template(f"{s} {v}", "shipped") for s in _SUBJECTS for v in _VERDICTS]


def read_templates(path: str | Path) -> list[Template]:
    """A user's templates; a line without exactly one slot is refused with its number."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the templates ({exc})") from exc
    out = []
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        if text.count(SLOT) != 1:
            raise InputError(BAD_TEMPLATE.format(path=path, line=number, slot=SLOT,
                                                 count=text.count(SLOT), text=text))
        out.append(Template(text, f"{path.name}:{number}"))
    if not out:
        raise InputError(NO_TEMPLATES.format(path=path, slot=SLOT))
    return out


def probe_phrases(groups: dict[str, tuple[str, ...]], *,
                  shipped: bool) -> dict[str, tuple[str, ...]]:
    """The phrases each group is probed with: the noun phrases for the shipped
    identities, else the group's own terms."""
    if shipped:
        return {g: CIVIL_COMMENTS_PHRASES[g] for g in groups}
    return dict(groups)
