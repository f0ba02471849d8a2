"""Rendering model text safely: a CommonMark parser, an allow-list sanitiser, pieces apart.

The hostile corpus (tests/hostile_corpus.py) goes through every renderer, and a real HTML parser
looks for anything that could run script; Hypothesis then throws random Markdown and HTML at it.
The browser test runs the same corpus in JupyterLab.
"""

from __future__ import annotations

import re

import pytest
from hostile_corpus import ANSWERS, CORPUS, REASONING, TOOL_NAMES
from html_safety import dangers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwq_jupyter.core.events import Response, ToolCall, Usage
from qwq_jupyter.render.history import history_output
from qwq_jupyter.render.html import allowed_url, markdown
from qwq_jupyter.render.render import footer_text, render_html, render_plain, response_bundle
from qwq_jupyter.session.conversation import Conversation, Turn


def response(**fields) -> Response:
    base = dict(
        answer="The answer is **42**.",
        reasoning="6 × 7 </details> <think> $x$ & more",
        usage=Usage(31, 812),
        finish_reason="stop",
        time_to_first_token=0.5,
        thinking_time=3.25,
        total_time=4.0,
        reasoning_chunks=800,
        answer_chunks=12,
    )
    base.update(fields)
    return Response(**base)


# --- the hostile corpus --------------------------------------------------------------------------


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CORPUS) >= 100
    assert {entry.kind for entry in CORPUS} == {"answer", "reasoning"}


@pytest.mark.parametrize("entry", ANSWERS, ids=lambda e: f"answer-{e.number}")
def test_hostile_answers_render_inert(entry) -> None:
    rendered = render_html(response(answer=entry.text), notes=[entry.text])
    assert dangers(rendered) == []


@pytest.mark.parametrize("entry", REASONING, ids=lambda e: f"reasoning-{e.number}")
def test_hostile_reasoning_renders_as_text(entry) -> None:
    rendered = render_html(response(reasoning=entry.text))
    assert dangers(rendered) == []
    assert rendered.count("<details") == 1 and rendered.count("</details>") == 1


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_hostile_tool_calls_render_inert(name: str) -> None:
    call = ToolCall(name=name, arguments={"q": "</pre><script>x</script>", name: name})
    rendered = render_html(response(answer="", tool_calls=[call], finish_reason="tool_calls"))
    assert dangers(rendered) == []
    assert "<a " not in rendered  # a tool name is text, never a link


def test_hostile_error_text_renders_inert() -> None:
    error = "```\n<img src=x onerror=alert(1)>\n[x](javascript:alert(1))"
    rendered = render_html(response(answer="", finish_reason="error", error=error))
    assert dangers(rendered) == [] and "&lt;img" in rendered


def test_an_unclosed_fence_in_one_turn_cannot_reach_the_next() -> None:
    """Joined into one text, turn 2's fence would close turn 1's and its HTML would run."""
    conversation = Conversation("c")
    conversation.put(0, Turn("first", response(answer="```\nunclosed"), None))
    conversation.put(
        1, Turn("second", response(answer="```\n<img src=x onerror=alert(1)>\n```"), None)
    )
    rendered = history_output(conversation).html
    assert dangers(rendered) == []
    assert rendered.count("<pre><code>") == 2  # each answer's fence is its own


def test_notes_are_rendered_apart_from_the_answer() -> None:
    note = "```\nan unclosed fence in a retry note"
    rendered = render_html(response(answer="after the note: <b>bold?</b>"), notes=[note])
    assert "&lt;b&gt;bold?&lt;/b&gt;" in rendered  # the answer is still parsed as prose
    assert rendered.index("an unclosed fence") < rendered.index("after the note")


# --- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://example.com/a?b=c", "http://x", "mailto:a@b.c", "notes.ipynb", "../x", "#part"],
)
def test_allowed_links_stay_links(url: str) -> None:
    assert allowed_url(url)
    assert f'href="{url}"' in markdown(f"[x]({url})")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "jav&#x61;script:alert(1)",
        "javascript&colon;alert(1)",
        "java\tscript:alert(1)",
        "%6Aavascript:alert(1)",
        "vbscript:x",
        "data:text/html,x",
        "file:///etc/passwd",
        "jav\u200bascript:x",
    ],
)
def test_other_schemes_are_refused_however_spelled(url: str) -> None:
    assert not allowed_url(url)


def test_images_become_links_and_load_nothing() -> None:
    rendered = markdown("![a chart](https://example.com/chart.png)")
    assert "<img" not in rendered
    assert '<a href="https://example.com/chart.png"' in rendered and "a chart" in rendered


# --- math ----------------------------------------------------------------------------------------

MATH = 'class="qwq-math tex2jax_process mathjax_process"'


@pytest.mark.parametrize(
    ("source", "typeset"),
    [
        ("$\\boxed{391}$", "\\(\\boxed{391}\\)"),
        ("$$x^2$$", "\\[x^2\\]"),
        ("\\(a < b\\)", "\\(a &lt; b\\)"),
        ("\\[\\frac{1}{2}\\]", "\\[\\frac{1}{2}\\]"),
        ("So the answer is \\boxed{391}.", "\\(\\boxed{391}\\)"),
        ("$$\n\\sum_i i\n$$", "\\[\\sum_i i\\]"),
    ],
)
def test_math_is_kept_for_mathjax(source: str, typeset: str) -> None:
    rendered = render_html(response(answer=source))
    assert f"<span {MATH}>{typeset}</span>" in rendered


def test_dollar_amounts_stay_money() -> None:
    assert MATH not in markdown("It costs $5 and $10.")
    rendered = render_html(response(answer="ok"), notes=["input → $0.00010; output → $0.01600"])
    assert rendered.count("qwq-math") == 0
    assert rendered.startswith('<div class="qwq-output tex2jax_ignore mathjax_ignore">')
    assert "$0.00083" in rendered  # the footer's cost, in the ignored container


@pytest.mark.parametrize("macro", ["\\href{javascript:x}{y}", "\\url{x}", "\\class{a}{b}"])
def test_tex_that_makes_links_is_shown_as_source(macro: str) -> None:
    rendered = markdown(f"${macro}$")
    assert MATH not in rendered and "<code>" in rendered


# --- layout and plain text -----------------------------------------------------------------------


def test_reasoning_cannot_break_the_layout() -> None:
    rendered = render_html(response())
    assert rendered.count("<details") == 1 and rendered.count("</details>") == 1
    assert "&lt;/details&gt;" in rendered and "&lt;think&gt;" in rendered
    assert "<summary>Reasoning · ≈800 tokens · 3.2 s</summary>" in rendered
    assert MATH not in rendered.split("</details>")[0]  # the reasoning's $x$ is not typeset


def test_the_bundle_is_html_and_plain_text() -> None:
    bundle = response_bundle(response(answer="a \x1b]52;c;aGk=\x07 b"))
    assert set(bundle) == {"text/html", "text/plain"}
    assert "\x1b" not in bundle["text/plain"] and "␛]52" in bundle["text/plain"]
    assert "\x1b" not in bundle["text/html"]


def test_footer_has_every_stat() -> None:
    footer = footer_text(response())
    for part in (
        "reasoning ≈800 tok",
        "answer ≈12 tok",
        "first token 0.5 s",
        "thinking 3.2 s",
        "tok/s",
        "$0.00083",
        "stop",
    ):
        assert part in footer, part


def test_reported_reasoning_tokens_are_exact() -> None:
    footer = footer_text(response(usage=Usage(31, 812, reasoning_tokens=790)))
    assert "reasoning 790 tok" in footer and "answer 22 tok" in footer


def test_unknown_usage_is_said_not_invented() -> None:
    footer = footer_text(response(usage=Usage()))
    assert "reasoning ≈800 tok" in footer and "answer ≈12 tok" in footer
    assert "cost unknown" in footer and "? tok/s" in footer


@pytest.mark.parametrize(
    ("reason", "answer", "notice"),
    [
        ("length", "", "Stopped at max_tokens while still reasoning"),
        ("length", "partial", "Stopped at max_tokens: raise max_tokens"),
        ("interrupted", "part", "Interrupted: what arrived is kept"),
        ("incomplete", "part", "cut off"),
    ],
)
def test_plain_notices(reason: str, answer: str, notice: str) -> None:
    r = response(finish_reason=reason, answer=answer)
    assert notice in render_html(r) and notice in render_plain(r)


def test_hidden_reasoning_and_notes() -> None:
    rendered = render_html(response(), show_reasoning=False, notes=["oldest turn <dropped>"])
    assert "<details" not in rendered
    assert "oldest turn &lt;dropped&gt;" in rendered


# --- property: nothing random gets through -------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "<", ">", "/", "\"", "'", "=", "`", "```", "~~~", "$", "$$", "\\(", "\\)", "\\[", "\\]",
        "[", "]", "(", ")", "!", "&", "#", ";", ":", "\n", "\n\n", " ", "    ", "-", "*", "|",
        "&#x61;", "&colon;", "&#106;", "%0a", "\t", "\x00", "\u202e",
        "javascript", "vbscript", "data", "script", "img", "svg", "iframe", "onerror", "onload",
        "href", "src", "style", "details", "summary", "pre", "a", "x", "1",
        "<script>", "</script>", "<img src=x onerror=alert(1)>", "<a href=javascript:x>",
        "\\href{javascript:x}{y}", "\\boxed{", "}", "[r]: ", "<javascript:x>", "](",
    ]
)  # fmt: skip
_MARKUP = st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=_MARKUP, reasoning=_MARKUP, note=_MARKUP)
def test_random_markup_never_yields_script(answer: str, reasoning: str, note: str) -> None:
    rendered = render_html(response(answer=answer, reasoning=reasoning), notes=[note])
    assert dangers(rendered) == []
    for href in re.findall(r'href="([^"]*)"', rendered):
        assert allowed_url(href)


@pytest.mark.parametrize(
    "bad",
    [
        "<img src=x onerror=alert(1)>",
        "<a href='jav&#x61;script:x'>a</a>",
        "<script>x</script>",
        "<p style='background:url(x)'>",
        "<iframe srcdoc='x'>",
    ],
)
def test_the_checker_itself_sees_danger(bad: str) -> None:
    assert dangers(bad)


def test_a_note_is_text_and_loses_nothing() -> None:
    note = "```js </div><img src=x onerror=alert(1)> (HTTP 429): busy; retried after 0.1 s"
    rendered = render_html(response(), notes=[note])
    assert "retried after 0.1 s" in rendered and "&lt;img src=x" in rendered
    assert dangers(rendered) == []


def test_a_response_shown_again_in_another_cell_is_rendered_safely(shell) -> None:
    from IPython.utils.capture import capture_output

    from qwq_jupyter.render.render import DisplayedResponse

    shown = DisplayedResponse.wrap(response(answer="<img src=x onerror=alert(1)> **ok**"), None)
    with capture_output() as captured:
        shown._ipython_display_()
    (output,) = captured.outputs
    assert set(output.data) == {"text/html", "text/plain"}
    assert dangers(output.data["text/html"]) == []
    assert "<strong>ok</strong>" in output.data["text/html"]


# --- the TeX filter and the sanitiser on their own ---------------------------------------------

UNSAFE_MACROS = [
    "href{javascript:x}{y}", "url{javascript:x}", "class{a}{b}", "cssId{a}{b}",
    "style{color:red}{b}", "require{html}", "unicode{x}", "mmlToken{mi}{x}", "htmlData{a=b}{x}",
    "htmlStyle{x}{y}", "data{a=b}{x}", "toggle{a}{b}\\endtoggle", "mathtip{a}{b}", "texttip{a}{b}",
    "bbox[background:url(x)]{y}", "csname href\\endcsname", "def\\x{y}", "let\\x\\y",
    "newcommand{\\x}{y}", "renewcommand{\\x}{y}",
]  # fmt: skip


@pytest.mark.parametrize("macro", UNSAFE_MACROS)
@pytest.mark.parametrize("delimiters", [("$", "$"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]")])
def test_every_unsafe_macro_is_kept_from_mathjax(macro: str, delimiters: tuple[str, str]) -> None:
    opening, closing = delimiters
    rendered = render_html(response(answer=f"see {opening}x + \\{macro}{closing} here"))
    assert MATH not in rendered and dangers(rendered) == []
    boxed = render_html(response(answer=f"\\boxed{{\\{macro}}}"))
    assert MATH not in boxed and dangers(boxed) == []


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: f"raw-{e.number}")
def test_the_sanitiser_alone_neutralises_the_corpus_as_raw_html(entry) -> None:
    """As if the parser had let the text through as HTML: nh3 must still hold."""
    from qwq_jupyter.render.html import document, sanitize

    assert dangers(sanitize(entry.text)) == []
    assert dangers(document([entry.text])) == []


def test_the_sanitiser_keeps_only_our_classes_and_safe_styles() -> None:
    from qwq_jupyter.render.html import sanitize

    cleaned = sanitize(
        '<span class="qwq-math mathjax_process evil" style="background:url(x);opacity:0.5">'
        'a</span><div class="jp-Dialog" style="position:fixed">b</div>'
    )
    assert 'class="qwq-math mathjax_process"' in cleaned and "evil" not in cleaned
    assert "url(" not in cleaned and "opacity:0.5" in cleaned
    assert "jp-Dialog" not in cleaned and "position" not in cleaned


def test_unclosed_math_openers_are_indexed_once_not_rescanned(monkeypatch) -> None:
    """Each opener looks its closer up in an index built once per paragraph: linear time."""
    from qwq_jupyter.render import html as _html

    built: list[int] = []
    original = _html._MathIndex.__init__

    def counting(self, source: str) -> None:
        built.append(len(source))
        original(self, source)

    monkeypatch.setattr(_html._MathIndex, "__init__", counting)
    answer = "\\boxed{ \\( " * 5_000 + "\n\n" + "\\[ x " * 5_000
    rendered = markdown(answer)
    assert len(built) == 2  # one index per paragraph, not one scan per opener
    assert MATH not in rendered and rendered.count("<p>") == 2


def test_an_overlong_answer_is_shown_as_written_not_parsed() -> None:
    from qwq_jupyter.render.html import MARKDOWN_LIMIT

    rendered = markdown("[![<b>" * (MARKDOWN_LIMIT // 5 + 1))
    assert "shown as plain text" in rendered and "&lt;b&gt;" in rendered
    assert dangers(rendered) == []
