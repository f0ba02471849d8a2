"""Turning a response into portable, safe Markdown and plain text.

Model text is untrusted: JupyterLab renders Markdown output with its HTML unsanitised, so raw
HTML in an answer is escaped (outside code, where it is shown literally anyway), `javascript:`
and `data:` links are neutralised, and the reasoning goes inside `<pre>` fully escaped so a
literal `</details>` or `<think>` in it cannot break the layout.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ._events import Response

__all__ = [
    "DisplayedResponse",
    "collapsed_reasoning",
    "escape_markdown_html",
    "fenced",
    "footer_text",
    "reasoning_summary",
    "render_markdown",
    "render_plain",
]

DEMO_BANNER = (
    "offline demo: this reply is scripted by qwq_jupyter.testing, not written by QwQ "
    "(set CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN for the real model)"
)

# Code as a Markdown renderer sees it, where `<` is shown literally and need not be escaped:
# fenced blocks opening at the start of a line (an unclosed one runs to the end), and code
# spans on one line not opened by an escaped backtick. Anything these miss is escaped, which
# is always safe; mistaking text for code would not be, so they err towards "not code".
_FENCE = r"^ {0,3}(?P<fence>`{3,}|~{3,})[^\n]*(?:\n.*?)?(?:\n {0,3}(?P=fence)|\Z)"
_SPAN = r"(?<![\\`])(?P<ticks>`+)(?!`)[^\n]*?(?<!`)(?P=ticks)(?!`)"
_CODE = re.compile(f"{_FENCE}|{_SPAN}", re.MULTILINE | re.DOTALL)
_UNSAFE_LINK = re.compile(
    r"\]\(\s*(?:javascript|data|vbscript):(?:[^()]|\([^()]*\))*\)", re.IGNORECASE
)


def escape_markdown_html(text: str) -> str:
    """Escape HTML in Markdown text but not inside code spans and fenced code blocks."""
    pieces = []
    done = 0
    for code in _CODE.finditer(text):
        pieces += [_escape_prose(text[done : code.start()]), code.group()]
        done = code.end()
    pieces.append(_escape_prose(text[done:]))
    return "".join(pieces)


def _escape_prose(text: str) -> str:
    return _UNSAFE_LINK.sub("](#unsafe-link-removed)", text).replace("<", "&lt;")


def fenced(text: str, language: str = "") -> str:
    """A code fence longer than any run of backticks inside, so the text cannot close it."""
    run = longest = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def collapsed_reasoning(summary: str, reasoning: str) -> str:
    """Reasoning folded under a summary line, fully escaped so nothing in it is markup.

    `$` is escaped too, so MathJax in the notebook does not typeset the raw reasoning.
    """
    text = html.escape(reasoning.strip(), quote=False).replace("$", "&#36;")
    return (
        f"<details><summary>{html.escape(summary)}</summary>\n\n"
        f'<pre style="white-space: pre-wrap">{text}</pre>\n\n</details>'
    )


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


def _count(value: int | None, estimated: bool, chunks: int) -> str:
    if value is None:
        # No usage from the server (an interrupted stream, a server that never says): the
        # streamed chunks are the best estimate, about one token each, and marked as one.
        return f"≈{chunks:,}"
    return f"≈{value:,}" if estimated else f"{value:,}"


def reasoning_summary(response: Response) -> str:
    tokens = _count(response.reasoning_tokens, response.tokens_estimated, response.reasoning_chunks)
    return f"Reasoning · {tokens} tokens · {_seconds(response.thinking_time)}"


def footer_text(response: Response) -> str:
    """One line of stats: tokens, times, speed, cost, finish reason."""
    estimated = response.tokens_estimated
    parts = [
        f"reasoning {_count(response.reasoning_tokens, estimated, response.reasoning_chunks)} tok",
        f"answer {_count(response.answer_tokens, estimated, response.answer_chunks)} tok",
        f"first token {_seconds(response.time_to_first_token)}",
        f"thinking {_seconds(response.thinking_time)}",
    ]
    speed = response.output_tokens_per_second
    parts.append("? tok/s" if speed is None else f"{speed:.1f} tok/s")
    parts.append("cost unknown" if response.cost is None else f"${response.cost:.5f}")
    parts.append(response.finish_reason)
    return " · ".join(parts)


def notice_text(response: Response) -> str | None:
    """A plain sentence for a reply that did not finish normally, else None."""
    reason = response.finish_reason
    if reason == "length":
        where = " while still reasoning" if not response.answer else ""
        return f"⚠ Stopped at max_tokens{where}: raise max_tokens for a full answer."
    if reason == "interrupted":
        return "■ Interrupted: what arrived is kept."
    if reason == "incomplete":
        cause = f" ({response.error})" if response.error else ""
        return f"⚠ The reply was cut off{cause}; what arrived is kept."
    if reason == "error":
        return f"✖ {response.error or 'the call failed'}"
    return None


def render_markdown(
    response: Response,
    *,
    show_reasoning: bool = True,
    notes: list[str] | tuple[str, ...] = (),
    footer: bool = True,
) -> str:
    """The final, portable output of a call: collapsed reasoning, answer, notices, footer."""
    blocks = [f"> {escape_markdown_html(note)}" for note in notes]
    if show_reasoning and response.reasoning:
        blocks.append(collapsed_reasoning(reasoning_summary(response), response.reasoning))
    if response.answer:
        blocks.append(escape_markdown_html(response.answer))
    for call in response.tool_calls:
        arguments = json.dumps(call.arguments, ensure_ascii=False, indent=1)
        blocks.append(
            f"🔧 tool call **{html.escape(str(call.name))}**\n\n{fenced(arguments, 'json')}"
        )
    notice = notice_text(response)
    if notice:
        blocks.append(f"**{escape_markdown_html(notice)}**")
    if footer and response.finish_reason != "error":
        blocks.append(f"<sub>{html.escape(footer_text(response))}</sub>")
    return "\n\n".join(blocks)


def render_plain(
    response: Response, *, notes: list[str] | tuple[str, ...] = (), footer: bool = True
) -> str:
    """The same, as plain text, for text-only frontends and `text/plain`."""
    lines = [f"note: {note}" for note in notes]
    if response.reasoning:
        lines.append(f"[{reasoning_summary(response)}]")
    if response.answer:
        lines.append(response.answer)
    for call in response.tool_calls:
        lines.append(f"tool call {call.name}({call.arguments})")
    notice = notice_text(response)
    if notice:
        lines.append(notice)
    if footer and response.finish_reason != "error":
        lines.append(f"[{footer_text(response)}]")
    return "\n\n".join(lines)


class DisplayedResponse(Response):
    """The value of a `%%qwq` cell: shown by the live view, so the output prompt stays quiet."""

    _shown_in_cell: int | None = None
    #: The answer parsed from JSON, for `--json` cells.
    value: Any = None

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and shell.execution_count == self._shown_in_cell:
            # This cell's own value: the live view already shows the answer. A terminal still
            # gets the one-line summary after `Out[n]:`; a notebook shows nothing more.
            if getattr(shell, "kernel", None) is None:
                display({"text/plain": repr(self)}, raw=True)
            return
        bundle = {"text/markdown": render_markdown(self), "text/plain": render_plain(self)}
        display(bundle, raw=True)

    @classmethod
    def wrap(cls, response: Response, cell: int | None) -> DisplayedResponse:
        fields = {name: getattr(response, name) for name in Response.__dataclass_fields__}
        displayed = cls(**fields)
        displayed._shown_in_cell = cell
        return displayed
