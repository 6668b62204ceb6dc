"""``raigov explain``: one captured decision's inputs, output and contributions (the
"why was I refused?" answer). The work is ``raigov.monitors.explain_one``; this module
only prints. Imports nothing heavy at the top (``raigov --help`` stays fast)."""

from __future__ import annotations

import json
from typing import Any

import click

from raigov.cli.support import HOME_OPTION, resolve_home, translate_errors

HEADER = ("Prediction {prediction_id} of {model} (made by version {captured_version}, "
          "explained with version {version}, {ts})")
OUTPUT_LINE = "Output: {prediction}"
EXPLAINED_LINE = ("Explained: {output} of {explained!r} = {output_value:.6g}; baseline "
                  "{baseline:.6g}; sum of contributions {total:.6g}")
COMPLETENESS_LINE = ("Completeness error |baseline + sum - output| = {error:.3g} (bound "
                     "{bound:.3g}); method {method}, {background} background rows")


@click.command()
@click.option("--model", required=True, help="Registered model name.")
@click.option("--prediction-id", "prediction_id", required=True,
              help="The captured prediction's id (the predict response's prediction_id).")
@click.option("--version", "version", type=int, default=None,
              help="Explain with this registered version (default: the one that predicted).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A readable table or JSON.")
@HOME_OPTION
@translate_errors
def explain(model: str, prediction_id: str, version: int | None, fmt: str,
            home: str | None) -> None:
    """Explain one captured prediction: inputs, output and each feature's contribution."""
    from raigov.monitors.explain_one import explain_prediction_id

    result = explain_prediction_id(resolve_home(home), model, prediction_id, version=version)
    click.echo(json.dumps(result, indent=2, default=str) if fmt == "json" else render(result))


TOKENS_LINE = ("Tokens of {column!r} (logit units; + toward {explained!r}), in text order; "
               "the largest marked *:")
TOKEN_COMPLETENESS = ("Completeness error |baseline + sum - logit| = {error:.3g} (bound "
                      "{bound:.3g}); {method}, {n_steps} steps, baseline {baseline_input}")


def render(result: dict[str, Any]) -> str:
    """The table form: header, output, inputs, contributions by size, completeness."""
    if "tokens" in result:
        return render_tokens(result)
    total = sum(c["contribution"] for c in result["contributions"])
    lines = [HEADER.format(**result),
             OUTPUT_LINE.format(prediction=_pairs(result["prediction"])),
             EXPLAINED_LINE.format(total=total, **result), "",
             "Inputs:"]
    width = max(len(str(k)) for k in result["inputs"])
    lines += [f"  {str(k):<{width}}  {_text(v)}" for k, v in result["inputs"].items()]
    lines += ["", f"Contributions ({result['output']} units, largest first):"]
    rows = [(c["feature"], _text(c["value"]), f"{c['contribution']:+.6f}")
            for c in result["contributions"]]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines += [f"  {f:<{widths[0]}}  {v:<{widths[1]}}  {c:>{widths[2]}}" for f, v, c in rows]
    lines += ["", COMPLETENESS_LINE.format(error=result["completeness_error"],
                                           bound=result["completeness_bound"],
                                           method=result["method"],
                                           background=result["background_size"])]
    return "\n".join(lines)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_text(v)}" for k, v in values.items())


def _text(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return "{" + _pairs(value) + "}"
    return repr(value) if isinstance(value, str) and not value.isprintable() else str(value)


def render_tokens(result: dict[str, Any]) -> str:
    """A text model's decision: the tokens with their attributions, the text shown as
    data (control and other non-printable characters escaped, never interpreted)."""
    total = sum(t["attribution"] for t in result["tokens"])
    top = {t["position"] for t in result["top_tokens"][:5]}
    from textwrap import wrap

    lines = [*wrap(HEADER.format(**result), 80),
             *wrap(OUTPUT_LINE.format(prediction=_pairs(result["prediction"])), 80),
             *wrap(EXPLAINED_LINE.format(total=total, **result), 80), "",
             *wrap(f"Text: {_escaped(result['text'])}", 80), "",
             *wrap(TOKENS_LINE.format(**result), 80)]
    cells = [f"{_escaped(t['token'])} {t['attribution']:+.3f}"
             + ("*" if t["position"] in top else "") for t in result["tokens"]]
    line = " "
    for cell in cells:
        if len(line) + len(cell) + 2 > 78:
            lines.append(line)
            line = " "
        line += f" {cell}"
    lines += [line, "", *wrap(TOKEN_COMPLETENESS.format(
        error=result["completeness_error"], bound=result["completeness_bound"], **result), 80)]
    return "\n".join(lines)


def _escaped(text: str) -> str:
    """Printable characters as they are; anything else as a Python escape."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))
