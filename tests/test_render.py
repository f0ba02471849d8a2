"""Rendering model text safely: raw HTML escaped, code untouched, layout unbreakable."""

from __future__ import annotations

import pytest

from qwq_jupyter._events import Response, Usage
from qwq_jupyter._render import escape_markdown_html, footer_text, render_markdown, render_plain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
        ('<img src=x onerror="alert(1)">', '&lt;img src=x onerror="alert(1)">'),
        ("[click](javascript:alert(1))", "[click](#unsafe-link-removed)"),
        ("[x]( data:text/html;base64,AAAA)", "[x](#unsafe-link-removed)"),
        ("a < b and c > d", "a &lt; b and c > d"),
        ("> quoted", "> quoted"),
        ("`<b>` stays", "`<b>` stays"),
        ("```html\n<b>code</b>\n```", "```html\n<b>code</b>\n```"),
        ("~~~\n<x>\n~~~ then <y>", "~~~\n<x>\n~~~ then &lt;y>"),
        ("unclosed ```\n<b>", "unclosed ```\n&lt;b>"),  # mid-line ``` opens no fence
        ("```\n<b>\nnever closed", "```\n<b>\nnever closed"),  # a fence runs to the end
        ("\\`<img src=x onerror=alert(1)>`", "\\`&lt;img src=x onerror=alert(1)>`"),
        ("text ~~~ <img src=x> ~~~", "text ~~~ &lt;img src=x> ~~~"),
        ("``a ` <b>`` and <i>", "``a ` <b>`` and &lt;i>"),
        ("[ok](https://example.com)", "[ok](https://example.com)"),
    ],
)
def test_escape_markdown_html(text: str, expected: str) -> None:
    assert escape_markdown_html(text) == expected


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


def test_reasoning_cannot_break_the_layout() -> None:
    markdown = render_markdown(response())
    assert markdown.count("<details>") == 1 and markdown.count("</details>") == 1
    assert "&lt;/details&gt;" in markdown and "&lt;think&gt;" in markdown
    assert "&#36;x&#36;" in markdown  # not typeset as math
    assert "<summary>Reasoning · ≈800 tokens · 3.2 s</summary>" in markdown


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
    # the streamed chunks stand in, marked as an estimate; the cost stays unknown
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
    assert notice in render_markdown(r) and notice in render_plain(r)


def test_hidden_reasoning_and_notes() -> None:
    markdown = render_markdown(response(), show_reasoning=False, notes=["oldest turn <dropped>"])
    assert "<details>" not in markdown
    assert markdown.startswith("> oldest turn &lt;dropped>")
