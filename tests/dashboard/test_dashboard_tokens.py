"""A text decision in the dashboard's prediction explorer: its own text with each word
coloured by its token attribution, built only from escaped data. The fragment is
checked by a real HTML parser (only the fixed div and span tags, only title and style
attributes); the page is an AppTest run of the real entry script on a small text home
(tests/monitors/text_tokens_home.py), fed a review holding ``<script>alert(1)</script>``."""

from __future__ import annotations

import html
import time
from html.parser import HTMLParser

import pytest

from raigov.dashboard.highlight import highlighted_text, shown
from tests.dashboard.conftest import app_test
from tests.monitors import text_tokens_home as th

SCRIPT = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    """Every start tag with its attribute names, and the text data, as parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_data(self, data) -> None:
        self.data.append(data)


def parsed(fragment: str) -> _Tags:
    found = _Tags()
    found.feed(fragment)
    return found


def test_a_word_holding_markup_is_shown_as_its_characters_never_as_a_tag() -> None:
    text = f'{SCRIPT} "quoted" \x1b[31m\u202eevil\n\n**not bold** [x](javascript:y)'
    words = [{"word": SCRIPT, "attribution": 0.8, "start": 0, "end": len(SCRIPT)},
             {"word": '"quoted"', "attribution": -0.2, "start": len(SCRIPT) + 1,
              "end": len(SCRIPT) + 9}]
    fragment = highlighted_text(text, words)
    assert SCRIPT not in fragment and html.escape(SCRIPT) in fragment
    assert "\x1b" not in fragment and "\\x1b[31m" in fragment and "\\u202e" in fragment
    assert "\n" not in fragment      # one line: one HTML block, never read as Markdown
    tags = parsed(fragment)
    assert {t for t, _ in tags.tags} == {"div", "span"}
    assert {a for _, attrs in tags.tags for a in attrs} <= {"title", "style"}
    assert "".join(tags.data) == html.unescape(shown(text))   # the text itself, in order
    assert "rgba(192, 57, 43, 0.85)" in fragment           # the largest, toward: deepest red
    assert "rgba(31, 119, 180" in fragment                 # against: blue


def test_words_without_spans_are_shown_one_after_another_escaped() -> None:
    fragment = highlighted_text("ignored", [{"word": SCRIPT, "attribution": 1.0}])
    assert html.escape(SCRIPT) in fragment and SCRIPT not in fragment


@pytest.fixture(scope="module")
def text_home(tmp_path_factory):
    """The small text home (token rows off: the page needs only a window), a viewer."""
    from raigov.users import add_user

    root = tmp_path_factory.mktemp("dashboard-tokens")
    artifact = th.train_artifact(root / "artifact")
    home, ids = th.make_home(root / "home", artifact, token_sample=0)
    add_user(home, "vera", role="viewer", password="viewer-password-1", actor="test")
    return home, ids


def test_the_prediction_explorer_colours_a_text_decisions_words_escaped(
        text_home, monkeypatch) -> None:
    home, ids = text_home
    monkeypatch.setenv("RAIGOV_HOME", str(home.root))
    at = app_test()
    now = time.time()
    at.session_state["raigov_session"] = {"name": "vera", "signed_in_at": now,
                                          "last_seen": now}
    at.run()
    at.query_params["model"] = th.MODEL
    at.switch_page("app_pages/model.py").run()
    at.session_state["model_tab"] = "Predictions"
    at.run()
    key = next(t.key for t in at.text_input if t.key.startswith("pred_id_"))
    at.text_input(key=key).input(ids[-1]).run()          # the review holding a script tag
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    [fragment] = [m.value for m in at.markdown if m.proto.allow_html]
    assert "<script" not in fragment.lower() and "alert" in fragment
    assert html.escape("<") in fragment and html.escape(">") in fragment
    tags = parsed(fragment)
    assert {t for t, _ in tags.tags} == {"div", "span"}
    assert "".join(tags.data) == th.HOSTILE               # the captured text, as characters
    spans = [t for t in tags.tags if t[0] == "span"]
    assert len(spans) == 12                               # < script > alert ( 1 ) < / script > dull
    assert any("Baseline" in c.value and "steps" in c.value for c in at.caption)
    words = at.dataframe[-1].value
    assert list(words.columns) == ["word", "attribution"] and len(words) == 12
    assert words["attribution"].abs().is_monotonic_decreasing
