"""The prediction explorer: look a prediction up by id, or filter the window's
predictions; see its inputs, outcome and label, and why (its SHAP waterfall; for a text
model its text with each word coloured by its token attribution)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from raigov.dashboard import actions, charts, queries, settings, ui
from raigov.dashboard.highlight import highlighted_text
from raigov.dashboard.sections.context import ModelView
from raigov.dashboard.shape.predictions import (OUTCOMES, PredictionFilter, mask_explanation,
                                                mask_values, protected_columns,
                                                split_prediction)
from raigov.errors import RaigovError

NOT_FOUND = "No prediction of this model has the id {prediction_id}."
NONE_MATCH = "No prediction in this window matches the filter."
EXPLAIN_FAILED = "The explanation could not be computed: {error}"
OUTCOME_LINE = ("Predicted class {label} with score {score}; ground truth {truth}. "
                "Made {ts}, version {version}.")
MASKED_NOTE = ("Sensitive values and pseudonymised identifiers are masked: your role "
               "({role}) lacks the 'sensitive.read' permission.")
REVEAL = "Reveal sensitive values"
REVEALED_NOTE = "Revealed to you; the reveal is recorded in the ledger (sensitive.revealed)."
TOKENS_NOTE = ("Each word coloured by its integrated-gradients attribution to the logit of "
               "{explained!r} (red toward it, blue against; deeper is larger; hover for the "
               "value). Baseline {baseline} + the attributions = logit {logit} within "
               "{error} ({n_steps} steps).")
TEXT_MASKED = "The text of {column!r} is masked: your role lacks 'sensitive.read'."
SHAP_NOTE = ("SHAP values explain the logit (log-odds of the positive class): the base "
             "value plus every contribution is this prediction's logit, probability {p}.")


def draw(view: ModelView) -> None:
    typed = st.text_input("Prediction id", key=f"pred_id_{view.key}",
                          placeholder="paste a prediction id, or filter below").strip()
    chosen = typed or _filtered(view)
    if not chosen:
        return
    try:
        record = queries.prediction(view.root, view.model, chosen)
    except RaigovError as exc:
        ui.stop_on_error(exc)
    if record is None:
        st.warning(ui.md(NOT_FOUND.format(prediction_id=chosen)))
        return
    _show(view, record)


def _filtered(view: ModelView) -> str | None:
    if view.window is None:
        return None
    cols = st.columns(4)
    predicted = cols[0].selectbox("Predicted class", ["any", 0, 1], key=f"pred_class_{view.key}")
    outcome = cols[1].selectbox("Outcome", OUTCOMES, key=f"pred_outcome_{view.key}")
    low, high = cols[2].slider("Score", 0.0, 1.0, (0.0, 1.0), key=f"pred_score_{view.key}")
    limit = cols[3].number_input("Rows", 10, 200, 50, step=10, key=f"pred_limit_{view.key}")
    where = PredictionFilter(version=view.version, start=view.window.to_pydatetime(),
                             end=view.window_end.to_pydatetime(),
                             predicted=None if predicted == "any" else int(predicted),
                             outcome=outcome, min_score=low, max_score=high, limit=int(limit))
    found = queries.predictions(view.root, view.model, where)
    if found.empty:
        st.info(NONE_MATCH)
        return None
    ui.table(found, height=240)
    return st.selectbox("Explain prediction", found["prediction_id"].tolist(),
                        key=f"pred_pick_{view.key}")


def _show(view: ModelView, record: dict[str, Any]) -> None:
    inputs, outcome = split_prediction(record, view.spec.input_columns)
    truth = "not arrived yet" if outcome["y_true"] is None else outcome["y_true"]
    st.subheader(f"Prediction {ui.md(outcome['prediction_id'])}", anchor=False)
    st.write(OUTCOME_LINE.format(label=outcome["label"], score=ui.num(outcome["score"]),
                                 truth=truth, ts=ui.when(outcome["ts"]),
                                 version=outcome["version"]))
    protected = [c for c in protected_columns(view.spec) if c in inputs]
    hidden = protected if protected and not _revealed(view, outcome, protected) else []
    left, right = st.columns([1, 2])
    with left:
        # st.table reads Markdown in cells: escape, so every value shows literally
        shown = mask_values(inputs, hidden)
        frame = pd.DataFrame({"value": [ui.md(_text(v)) for v in shown.values()]},
                             index=pd.Index([ui.md(k) for k in shown], name="input"))
        st.table(frame)
    with right:
        _explanation(view, outcome, inputs, hidden)


def _revealed(view: ModelView, outcome: dict[str, Any], protected: list[str]) -> bool:
    """Whether this run shows the protected values: only to a role with
    ``sensitive.read``, after it asked, and the ask is ledgered first."""
    if not view.user.can("sensitive.read"):
        st.caption(MASKED_NOTE.format(role=view.user.role))
        return False
    key = f"revealed_{view.key}_{outcome['prediction_id']}"
    if not st.session_state.get(key):
        if not st.button(REVEAL, key=f"reveal_{view.key}", icon=":material/visibility:"):
            return False
        try:
            actions.reveal_sensitive(settings.home(), view.user, view.model,
                                     prediction_id=str(outcome["prediction_id"]),
                                     columns=protected)
        except RaigovError as exc:
            ui.stop_on_error(exc)
        st.session_state[key] = True
    st.caption(REVEALED_NOTE)
    return True


def _explanation(view: ModelView, outcome: dict[str, Any], inputs: dict[str, Any],
                 hidden: list[str]) -> None:
    try:
        with st.spinner("Computing the attributions..."):
            result = queries.explanation(view.root, view.model, int(outcome["version"]),
                                         outcome["prediction_id"], inputs)
    except (RaigovError, ValueError) as exc:
        st.error(EXPLAIN_FAILED.format(error=exc))
        return
    if "words" in result:
        _tokens(view, result, hidden)
        return
    ui.chart(charts.waterfall(mask_explanation(result, hidden)), key=f"waterfall_{view.key}")
    st.caption(SHAP_NOTE.format(p=ui.num(result["probability"])))


def _tokens(view: ModelView, result: dict[str, Any], hidden: list[str]) -> None:
    """A text decision: the text with its words coloured, and the words by size."""
    if result["column"] in hidden:
        st.caption(TEXT_MASKED.format(column=result["column"]))
        return
    # every piece of data in the fragment is html.escape'd (raigov.dashboard.highlight)
    st.markdown(highlighted_text(result["text"], result["words"]), unsafe_allow_html=True)
    st.caption(TOKENS_NOTE.format(explained=result["explained"], baseline=ui.num(
        result["baseline"]), logit=ui.num(result["output_value"]),
        error=ui.num(result["completeness_error"]), n_steps=result["n_steps"]))
    words = pd.DataFrame(result["words"], columns=["word", "attribution"])
    words = words.reindex(words["attribution"].abs().sort_values(ascending=False).index)
    ui.table(words, height=240, column_config={"attribution": ui.NUMBER_COLUMN})


def _text(value: Any) -> str:
    return "missing" if value is None else str(value)
