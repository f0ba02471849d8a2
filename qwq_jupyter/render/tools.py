"""Tool calls as the user sees them: one line each, and the details one click away.

A call's name, arguments and result are written by the model and by the user's function (a
result may quote data, or text a web page held): all of it is untrusted text, shown through
`escape` and `preformatted` only, and bounded: a cell shows `SHOWN_CHARS` of a result (the
model was sent up to `tool_result_chars`; `response.tool_calls` holds all of it).
"""

from __future__ import annotations

import json
from typing import Any

from ..core.errors import server_text
from ..core.events import ToolCall
from ..core.printable import printable
from .html import block, escape, preformatted

__all__ = ["SHOWN_CHARS", "asked_line", "call_line", "tool_calls_html", "tool_calls_plain"]

#: Characters of one call's arguments and result shown in a cell.
SHOWN_CHARS = 2_000
#: The mark of a tool call (in DejaVu Sans, so it renders without an emoji font).
MARK = "⚙"
_LINE_CHARS = 100


def asked_line(call: ToolCall) -> str:
    """The call as the model asked for it, before anything ran: `⚙ QwQ calls f(x=1)`."""
    return f"{MARK} QwQ calls {server_text(call.name, 64)}({_arguments_inline(call.arguments)})"


def call_line(call: ToolCall) -> str:
    """One printable line: `⚙ count_rows(column="North") → 42 · 0.01 s`."""
    head = f"{MARK} {server_text(call.name, 64)}({_arguments_inline(call.arguments)})"
    seconds = f" · {call.seconds:.2f} s" if call.seconds else ""
    if call.status == "ran":
        return f"{head} → {server_text(call.result or '', _LINE_CHARS)}{seconds}"
    if call.status == "failed":
        return f"{head} raised {server_text(call.error or '', _LINE_CHARS)}{seconds}"
    if call.status in ("refused", "stopped", "not run"):
        return f"{head}: {call.status}, {server_text(call.error or '', _LINE_CHARS)}"
    return f"{head}: asked (nothing here runs it)"


def tool_calls_html(calls: list[ToolCall]) -> str:
    """Each call folded under its line; open, the arguments and the result as written."""
    if not calls:
        return ""
    folded = "".join(
        block(
            f"<details><summary>{escape(call_line(call))}</summary>{_details(call)}</details>",
            "qwq-tool",
        )
        for call in calls
    )
    return block(folded, "qwq-tool", "margin-bottom: 0.6em")


def tool_calls_plain(calls: list[ToolCall]) -> list[str]:
    return [printable(call_line(call)) for call in calls]


def _details(call: ToolCall) -> str:
    parts = [f"<p><b>{escape(server_text(call.name, 64))}</b> with</p>"]
    parts.append(preformatted(_shown(_json(call.arguments, indent=1))))
    if call.result is not None:
        parts += ["<p>returned</p>", preformatted(_shown(call.result))]
    if call.error is not None:
        parts += ["<p>sent back instead of a result</p>", preformatted(_shown(call.error))]
    return "".join(parts)


def _arguments_inline(arguments: Any) -> str:
    """`a=1, b="x"` from a dict; anything else as the model wrote it; bounded."""
    if isinstance(arguments, dict):
        text = ", ".join(f"{key}={_json(value)}" for key, value in arguments.items())
    else:
        text = _json(arguments)
    return server_text(text, 60)


def _json(value: Any, indent: int | None = None) -> str:
    if isinstance(value, str) and indent is None:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def _shown(text: str) -> str:
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}\n[… {len(text):,} characters in all]"
