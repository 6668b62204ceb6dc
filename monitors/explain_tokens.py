"""The explain family's rows for a text model (a network that reads token ids): token
attributions of a seeded sample of ``monitoring.token_sample`` window rows
(:mod:`raigov.monitors.attribution_tokens`: integrated gradients to the positive
class's logit), summed into words, then per text column:

- ``explain.importance.<token>``, segment ``column=<name>`` and per group
  (``column=review&mentions=women`` for a sensitive attribute,
  ``column=review&review_mentions=muslim`` for a group the text mentions, as the
  fairness family names them): the segment's top ``top_tokens`` words by mean |word
  attribution| over the segment's explained rows, a row counting 0 where the word is
  absent (so the figure is comparable with a feature's importance, and a frequent word
  that moves every decision a little ranks with a rare one that moves a few a lot).
  ``n`` is the rows the word occurs in (``min_group_size`` applies to it); details hold
  the segment's rows, the occurrences, the mean signed attribution and the mean
  |attribution| where it occurs, and the word as the tokenizer wrote it (``token``).
  A word's attribution in a row is the sum over its pieces and its occurrences there.
- ``explain.importance.<column>``, segment ``all`` and per sensitive group, as for a
  tabular feature: the mean |sum of the column's token attributions| (the logit's
  change from the baseline); its ``all`` row holds every explained row's completeness
  error by prediction id.
- ``explain.attribution_shift``: insufficient_data with the reason (a text's words
  change from row to row: there is no fixed feature set to rank).

Token rows are told from feature rows by their segment: a feature's rows are ``all``,
``<attribute>=<value>`` and ``class=<name>``; a token's always start with
``column=<name>`` (the text families' segment of a column), so the word ``review`` of
the column ``review`` is ``explain.importance.review`` at ``column=review``, never the
column's own row at ``all``. A sensitive attribute called ``column`` would make the two
spellings meet: such a spec gets error rows saying so.

Words come from user data: a word's name part keeps letters, digits and ``_`` and
percent-encodes every other character as UTF-8 (``%`` itself as ``%25``), after NFC
normalisation, so a name never holds a dot, space, markup or control character and two
different words never share a name (``!`` -> ``%21``, ``<script>`` is three words:
``%3C``, ``script``, ``%3E``).

Token attributions cost seconds a row on a CPU (a transformer's forward and backward
pass at 32 or more path points), so a model asks for them: ``token_sample`` 0 (the
default) gives insufficient_data rows saying how to turn them on.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from raigov.errors import ConfigError
from raigov.models.identity_terms import memberships
from raigov.monitors.base import MetricRow, WindowData, segment_name
from raigov.monitors.counts import Grouping, figure_row, group_rows, make_rng, overall_grouping
from raigov.monitors.counts import percentile_interval
from raigov.monitors.explain_rows import (IMPORTANCE, SHIFT, Context, bootstrap_importance,
                                          failed_rows, importance_rows)
from raigov.monitors.fairness_text import member_mask
from raigov.monitors.shap_explainer import sample_frame

if TYPE_CHECKING:
    import pandas as pd

    from raigov.models.spec import ModelSpec
    from raigov.monitors.attribution_tokens import TokenAttribution

TOKENS_OFF = ("{reason}; token attributions per window are off (monitoring.token_sample "
              "is 0): set it to the rows to explain a window, e.g. 20 (seconds a row on a "
              "CPU)")
NO_TEXTS = "none of the {n} sampled predictions has a text in column {column!r} to explain"
NOT_ATTRIBUTABLE = "the model's tokens could not be attributed: {error}"
NO_WINDOW_ROWS = "the window holds no predictions to explain"
INCOMPLETE = ("token attributions do not add up to the logit: {bad} of {n} explained rows "
              "miss by more than the bound (worst {error:.3g}, bound {bound:.3g})")
COLUMN_ATTRIBUTE = ("sensitive attribute 'column' of model {model!r} would share the "
                    "segment column=<name> of the token rows; rename the attribute")
TEXT_SHIFT = ("a text model's words change from row to row, so there is no fixed feature "
              "set whose ranking could shift; see the explain.importance.<token> rows "
              "(segment column=<name>)")
SEGMENT_COLUMN = "column"
METHOD = "layer_integrated_gradients"
_KEPT = "_"


@dataclass(frozen=True)
class TokenGroup:
    """Rows of the explained sample that a segment covers."""

    segment: str
    mask: np.ndarray


def token_key(word: str) -> str:
    """The name part of a word's metric: letters, digits and ``_`` kept, every other
    character percent-encoded as UTF-8 (injective: ``%`` is encoded too)."""
    return "".join(ch if ch.isalnum() or ch in _KEPT else
                   "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                   for ch in unicodedata.normalize("NFC", word))


def word_matrix(found: Sequence["TokenAttribution"]) -> tuple[list[str], np.ndarray,
                                                             np.ndarray, np.ndarray]:
    """(keys sorted, ``[n, V]`` summed word attribution per row, ``[n, V]`` rows where
    the word occurs, ``[n, V]`` occurrences), one key per word (see ``token_key``)."""
    per_row: list[dict[str, tuple[float, int]]] = []
    for one in found:
        row: dict[str, tuple[float, int]] = {}
        for word in one.words:
            key = token_key(word.text)
            total, count = row.get(key, (0.0, 0))
            row[key] = (total + word.attribution, count + 1)
        per_row.append(row)
    keys = sorted({k for row in per_row for k in row})
    index = {k: j for j, k in enumerate(keys)}
    values = np.zeros((len(found), len(keys)))
    counts = np.zeros((len(found), len(keys)), dtype=np.int64)
    for i, row in enumerate(per_row):
        for key, (total, count) in row.items():
            values[i, index[key]], counts[i, index[key]] = total, count
    return keys, values, counts > 0, counts


def token_groups(spec: "ModelSpec", explained: "pd.DataFrame", column: str) -> list[TokenGroup]:
    """The column's segment, then per sensitive group, then per group the column's
    texts mention (rows that mention it; groups no row mentions are left out)."""
    n = len(explained)
    out = [TokenGroup(segment_name({SEGMENT_COLUMN: column}), np.ones(n, dtype=bool))]
    for attribute in spec.sensitive:
        grouping = group_rows(explained, [attribute])
        out += [TokenGroup(segment_name({SEGMENT_COLUMN: column, attribute: value[0]}),
                           grouping.codes == g) for g, value in enumerate(grouping.values)]
    for m in memberships(spec):
        mask = member_mask(explained, m.name, m.column, m.terms) if m.column == column \
            else np.zeros(n, dtype=bool)
        if mask.any():
            out.append(TokenGroup(segment_name({SEGMENT_COLUMN: column, m.attribute: m.group}),
                                  mask))
    return out


def token_importance_rows(found: Sequence["TokenAttribution"], groups: Sequence[TokenGroup],
                          *, column: str, top: int, ctx: Context) -> list[MetricRow]:
    """``explain.importance.<token>`` rows: each group's top ``top`` words."""
    keys, values, present, counts = word_matrix(found)
    texts = _texts(found)
    rows: list[MetricRow] = []
    for group in groups:
        part, seen = np.abs(values[group.mask]), present[group.mask]
        if len(part) == 0 or not keys:
            continue
        importance = part.mean(axis=0)
        occurs = seen.sum(axis=0)
        order = [j for j in np.argsort(-importance, kind="stable") if occurs[j] > 0][:top]
        draws = bootstrap_importance(part[:, order], replicates=ctx.replicates,
                                     rng=make_rng(ctx.seed, f"explain:tokens:{group.segment}"))
        for rank, j in enumerate(order, start=1):
            value = float(importance[j])
            low, high, _ = percentile_interval(draws[:, rank - 1], estimate=value,
                                               confidence=ctx.confidence)
            signed = values[group.mask][:, j][seen[:, j]]
            details = {**ctx.base, "token": texts[keys[j]], "column": column, "rank": rank,
                       "segment_rows": len(part), "occurrences":
                       int(counts[group.mask][:, j].sum()),
                       "mean_attribution": float(signed.mean()),
                       "mean_abs_where_present": float(np.abs(signed).mean()),
                       "ci_method": "bootstrap" if ctx.replicates else "none",
                       "confidence": ctx.confidence, "bootstrap_replicates": ctx.replicates}
            rows.append(figure_row(IMPORTANCE.format(feature=keys[j]), segment=group.segment,
                                   value=value, n=int(occurs[j]), min_n=ctx.min_n,
                                   interval=(low, high), details=details))
    return rows


def text_rows(window: WindowData, loaded: Any, *, reason: str, params: Any) -> list[MetricRow]:
    """Every explain row of a window of a model whose network reads token ids
    (``loaded`` has ``token_network``, ``column``, ``encoder``, ``max_length``)."""
    spec, size = window.spec, window.spec.monitoring.token_sample
    if size == 0:
        return failed_rows(spec, status="insufficient_data",
                           reason=TOKENS_OFF.format(reason=reason))
    if SEGMENT_COLUMN in spec.sensitive:
        return failed_rows(spec, status="error", reason=COLUMN_ATTRIBUTE.format(model=spec.name))
    if len(window.frame) == 0:
        return failed_rows(spec, status="insufficient_data", reason=NO_WINDOW_ROWS)
    column = loaded.column
    sample = sample_frame(window.frame, size=size, seed=params.seed, key="explain:tokens")
    keep = sample[column].map(lambda t: isinstance(t, str) and bool(t.strip())).to_numpy(bool)
    if not keep.any():
        return failed_rows(spec, status="insufficient_data",
                           reason=NO_TEXTS.format(n=len(sample), column=column))
    explained = sample[keep]
    from raigov.monitors.attribution_tokens import attribute_texts

    started = time.perf_counter()
    try:
        found = attribute_texts(loaded, explained[column].tolist())
    except ConfigError as exc:   # e.g. a head with more than one logit
        return failed_rows(spec, status="error", reason=NOT_ATTRIBUTABLE.format(error=exc))
    ctx = _context(spec, params, found, seconds=time.perf_counter() - started,
                   skipped=int((~keep).sum()), column=column)
    bad = [f for f in found if not f.within_bound]
    if bad:
        return failed_rows(spec, status="error", details=ctx.base, reason=INCOMPLETE.format(
            bad=len(bad), n=len(found), error=max(f.completeness_error for f in bad),
            bound=bad[0].bound))
    rows = column_rows(ctx, found, explained, sensitive=spec.sensitive)
    rows += token_importance_rows(found, token_groups(spec, explained, column),
                                  column=column, top=params.top_tokens, ctx=ctx)
    return rows + [MetricRow(SHIFT, None, status="insufficient_data", n=len(found),
                             details={**ctx.base, "reason": TEXT_SHIFT})]


def column_rows(ctx: Context, found: Sequence["TokenAttribution"], explained: "pd.DataFrame",
                *, sensitive: Sequence[str]) -> list[MetricRow]:
    """``explain.importance.<column>`` at ``all`` and per sensitive group; the ``all``
    row holds each explained row's completeness error by prediction id."""
    totals = np.array([[float(f.attributions.sum())] for f in found])
    groupings: list[Grouping] = [overall_grouping(len(found))]
    groupings += [group_rows(explained, [c]) for c in sensitive]
    rows = [row for grouping in groupings for row in importance_rows(ctx, totals, grouping)]
    ids = (explained["prediction_id"].astype(str).tolist() if "prediction_id" in explained
           else [str(i) for i in range(len(found))])
    errors = {i: float(f.completeness_error) for i, f in zip(ids, found)}
    return [replace(rows[0], details={**rows[0].details, "completeness_errors": errors}),
            *rows[1:]]


def _context(spec: "ModelSpec", params: Any, found: Sequence["TokenAttribution"], *,
             seconds: float, skipped: int, column: str) -> Context:
    errors = np.array([f.completeness_error for f in found])
    base = {"method": METHOD, "output": "logit", "explained": spec.positive_class,
            "unit": "mean |attribution| in logit units", "column": column,
            "explained_rows": len(found), "skipped_rows": skipped,
            "max_completeness_error": float(errors.max()),
            "median_completeness_error": float(np.median(errors)),
            "completeness_bound": float(found[0].bound),
            "completeness": "|baseline logit + sum of a row's attributions - the row's logit|",
            "baseline_input": "[CLS] [PAD]... [SEP]", "n_steps_max": max(f.n_steps for f in found),
            "ms_per_row": round(1000 * seconds / len(found), 3), "device": "cpu",
            "seed": params.seed, "top_tokens": params.top_tokens,
            "words": "word pieces summed into words; a word's occurrences in a row summed"}
    replicates = spec.monitoring.bootstrap if params.bootstrap is None else params.bootstrap
    return Context(features=(column,), replicates=replicates,
                   confidence=params.confidence, min_n=spec.monitoring.min_group_size,
                   seed=params.seed, base=base)


def _texts(found: Sequence["TokenAttribution"]) -> dict[str, str]:
    """Each key's word as the tokenizer wrote it (NFC)."""
    return {token_key(w.text): unicodedata.normalize("NFC", w.text)
            for one in found for w in one.words}
