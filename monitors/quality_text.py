"""Quality of free-text input columns (dtype ``text``), per column (segment
``column=<name>``), each with the reference's value beside it in ``details``:

- ``quality.text_length``: mean tokens per present text (the column's tokenizer,
  special tokens included; mean characters in details);
- ``quality.empty_rate``: share of rows whose text is missing or blank;
- ``quality.truncated_rate``: share of present texts at or past the column's
  ``max_length`` tokens (cut to fit upstream, or refused at the door);
- ``quality.oov_rate``: share of the column's word-piece tokens that the tokenizer maps
  to its unknown token (special tokens left out);
- ``quality.non_letter_rate``: share of the column's non-space characters that are not
  letters (digits, punctuation, symbols, markup).

Rows are emitted by the quality family (``raigov.monitors.quality`` adds them); this
module holds their definition. A window without text columns yields none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from raigov.monitors.base import MetricInfo, MetricRow

if TYPE_CHECKING:
    from raigov.models.spec import ColumnSpec
    from raigov.monitors.base import WindowData

TEXT_QUALITY_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("quality.text_length", "mean tokens per text of a text column (segment "
               "column=<name>; the reference's in details)", None),
    MetricInfo("quality.empty_rate", "share of missing or blank texts of a text column", False),
    MetricInfo("quality.truncated_rate", "share of texts of a text column at or past its "
               "max_length tokens", False),
    MetricInfo("quality.oov_rate", "share of a text column's tokens the tokenizer maps to "
               "unknown", False),
    MetricInfo("quality.non_letter_rate", "share of a text column's non-space characters "
               "that are not letters", False),
)
NO_TEXTS = "no present texts in column {column!r}"
MISSING_COLUMN = "column {column!r} is not in the window's frame"


@dataclass(frozen=True)
class TextStats:
    """The counts behind the five rates, for one column of one frame."""

    rows: int
    present: int
    empty: int
    tokens: int           # special tokens included, over present texts
    chars: int
    at_limit: int
    pieces: int           # word-piece tokens, no special tokens
    unknown: int
    non_space: int
    non_letter: int

    def values(self) -> dict[str, float | None]:
        return {
            "quality.text_length": self.tokens / self.present if self.present else None,
            "quality.empty_rate": self.empty / self.rows if self.rows else None,
            "quality.truncated_rate": self.at_limit / self.present if self.present else None,
            "quality.oov_rate": self.unknown / self.pieces if self.pieces else None,
            "quality.non_letter_rate": self.non_letter / self.non_space if self.non_space
            else None,
        }


def text_stats(values: pd.Series, column: "ColumnSpec") -> TextStats:
    from raigov.models.text import token_counts, unknown_counts

    raw = values.astype(object).where(values.notna(), None).tolist()
    texts = [v for v in raw if isinstance(v, str) and v.strip()]
    empty = len(raw) - len(texts)
    tokens = token_counts(column.tokenizer, texts)
    unknown, pieces = unknown_counts(column.tokenizer, texts) if texts else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    joined = "".join(texts)
    non_space = sum(1 for ch in joined if not ch.isspace())
    letters = sum(1 for ch in joined if ch.isalpha())
    return TextStats(rows=len(raw), present=len(texts), empty=empty, tokens=int(tokens.sum()),
                     chars=len(joined), at_limit=int((tokens >= column.max_length).sum()),
                     pieces=int(pieces.sum()), unknown=int(unknown.sum()),
                     non_space=non_space, non_letter=non_space - letters)


def text_columns(window: "WindowData") -> list["ColumnSpec"]:
    spec = window.spec
    return [spec.inputs.column(n) for n in spec.input_columns
            if spec.inputs.column(n).dtype == "text"]


def text_quality_rows(window: "WindowData") -> list[MetricRow]:
    rows: list[MetricRow] = []
    for column in text_columns(window):
        segment = f"column={column.name}"
        if column.name not in window.frame.columns:
            rows += [MetricRow(m.name, None, segment=segment, n=0, status="error",
                               details={"reason": MISSING_COLUMN.format(column=column.name)})
                     for m in TEXT_QUALITY_METRICS]
            continue
        current = text_stats(window.frame[column.name], column)
        reference = (text_stats(window.reference[column.name], column)
                     if column.name in window.reference.columns else None)
        rows += _rows(current, reference, column, segment)
    return rows


def _rows(current: TextStats, reference: TextStats | None, column: "ColumnSpec",
          segment: str) -> list[MetricRow]:
    ref_values = reference.values() if reference is not None else {}
    counts = {"quality.text_length": {"tokens": current.tokens, "mean_chars":
                                      current.chars / current.present if current.present
                                      else None},
              "quality.empty_rate": {"empty": current.empty},
              "quality.truncated_rate": {"at_limit": current.at_limit,
                                         "max_length": column.max_length},
              "quality.oov_rate": {"unknown_tokens": current.unknown, "tokens": current.pieces},
              "quality.non_letter_rate": {"non_letter": current.non_letter,
                                          "non_space": current.non_space}}
    out = []
    for metric, value in current.values().items():
        n = current.rows if metric == "quality.empty_rate" else current.present
        details: dict[str, Any] = {**counts[metric], "tokenizer": column.tokenizer,
                                   "reference": ref_values.get(metric)}
        if value is None:
            out.append(MetricRow(metric, None, segment=segment, n=n, status="insufficient_data",
                                 details={**details, "reason": NO_TEXTS.format(
                                     column=column.name)}))
        else:
            out.append(MetricRow(metric, float(value), segment=segment, n=n, details=details))
    return out
