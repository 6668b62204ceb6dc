"""One text decision's words coloured by their attribution, as an HTML fragment built
only from escaped data.

The text is the captured text itself: each word's ``[start, end)`` characters (from the
tokenizer's offsets) are wrapped in a ``<span>`` whose background is red toward the
explained class and blue against it, deeper for a larger |attribution|, with the word
and its value as the hover title; the characters between words are shown as they are.
Every piece of data (the text, each word, each title) goes through :func:`shown` and
``html.escape``; the only markup is the fixed ``<div>`` and ``<span>`` written here, so
``<script>`` in a review shows as the characters ``<script>``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from raigov.dashboard.charts import PALETTE, SEVERITY_COLOURS

TOWARD = SEVERITY_COLOURS["critical"]   # the waterfall's colour of a positive step
AGAINST = PALETTE[0]                    # ... and of a negative one
MIN_ALPHA, MAX_ALPHA = 0.12, 0.85
BOX = '<div style="line-height: 2.1; font-size: 1.05rem">{body}</div>'
SPAN = ('<span title="{title}" style="background-color: {colour}; border-radius: 0.25rem; '
        'padding: 0.1rem 0.15rem">{text}</span>')


def shown(text: Any) -> str:
    """Printable characters as they are, every other one (control characters, bidi
    overrides, newlines) as its Python escape, then HTML-escaped."""
    plain = "".join(ch if ch.isprintable() else ascii(ch)[1:-1]
                    for ch in str(text))
    return html.escape(plain, quote=True)


def colour(attribution: float, largest: float) -> str:
    """``rgba`` of the side's colour, alpha growing with |attribution| / largest."""
    if largest <= 0 or attribution == 0:
        return "transparent"
    hex_colour = TOWARD if attribution > 0 else AGAINST
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    alpha = MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * min(abs(attribution) / largest, 1.0)
    return f"rgba({r}, {g}, {b}, {alpha:.2f})"


def highlighted_text(text: str, words: Sequence[dict[str, Any]]) -> str:
    """The HTML fragment of ``text`` with ``words`` (``word``, ``attribution``,
    ``start``, ``end``) coloured. Words without a span (a tokenizer without offsets)
    are shown one after another instead of the text."""
    largest = max((abs(float(w["attribution"])) for w in words), default=0.0)
    spanned = sorted((w for w in words if w.get("start") is not None
                      and w.get("end") is not None), key=lambda w: int(w["start"]))
    if len(spanned) < len(words):
        return BOX.format(body=" ".join(_span(w["word"], w, largest) for w in words))
    parts, at = [], 0
    for word in spanned:
        start, end = int(word["start"]), int(word["end"])
        if start < at:        # overlapping spans cannot come from one tokenizer pass
            continue
        parts += [shown(text[at:start]), _span(text[start:end], word, largest)]
        at = end
    parts.append(shown(text[at:]))
    return BOX.format(body="".join(parts))


def _span(text: str, word: dict[str, Any], largest: float) -> str:
    value = float(word["attribution"])
    return SPAN.format(title=shown(f"{word['word']}: {value:+.4f}"),
                       colour=colour(value, largest), text=shown(text))
