"""A response as an output: safe HTML for notebooks, plain text for terminals.

Every piece (each note, the reasoning, the answer, each tool call, the notice, the footer) is
rendered on its own by `_html`, so nothing one piece says can change how another is parsed: an
unclosed code fence in a note cannot swallow the answer, a `</details>` in the reasoning cannot
end its fold. Text the extension writes itself (notes, footers, dollar amounts) is rendered
without math, inside a container MathJax ignores; only the answer's own math is typeset.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.events import Loop, Response, ThinkingCut
from ..core.printable import printable
from ..session.frontend import frontend
from .html import block, document, escape, markdown, preformatted
from .tools import tool_calls_html, tool_calls_plain

__all__ = [
    "FOLDED",
    "DisplayedResponse",
    "Rendered",
    "anatomy_line",
    "cut_line",
    "cut_summary",
    "extension_line",
    "footer_text",
    "loop_line",
    "money",
    "note_html",
    "notice_text",
    "plural",
    "reasoning_html",
    "reasoning_summary",
    "render_html",
    "render_plain",
    "response_bundle",
    "steering_lines",
]


#: What a folded answer says (the class's policy folds answers until `%qwq reveal`).
FOLDED = "Answer folded by the class's policy: try first, then %qwq reveal shows it"


def money(value: float | None, estimated: bool = False) -> str:
    """Dollars as every output writes them: fixed point, never e-notation; ≈ when estimated."""
    if value is None:
        return "cost unknown"
    return f"≈${value:.5f}" if estimated else f"${value:.5f}"


#: How the outputs name why the thinking was cut.
_CUT_BY = {
    "budget": "think_budget",
    "answer_now": "Answer now",
    "loop": "the loop guard",
    "cost": "max_cost",
}
_AFTER_LOOP = {
    "answer": "answering from the reasoning before the loop",
    "stop": "stopped",
    "warn": "warned only (on_loop = 'warn')",
}


def cut_line(cut: ThinkingCut) -> str:
    """What a cut did, in one sentence: the live marker and the final output both say it."""
    by = _CUT_BY.get(cut.reason, cut.reason)
    if cut.action == "answer":
        return f"✂ thinking cut at {cut.at_tokens:,} tokens by {by}: QwQ answers from it"
    return f"■ stopped at {cut.at_tokens:,} reasoning tokens by {by}"


def cut_summary(cut: ThinkingCut) -> str:
    """A cut in a few words, for a table cell: "200 tokens (think_budget)"."""
    by = _CUT_BY.get(cut.reason, cut.reason)
    stopped = "stopped at " if cut.action == "stop" else ""
    return f"{stopped}{cut.at_tokens:,} tokens ({by})"


def loop_line(loop: Loop) -> str:
    follow = _AFTER_LOOP.get(loop.action, "")
    seen = f"↻ {loop.describe()}, seen {loop.repeats:g}×"
    return f"{seen}: {follow}" if follow else seen


def extension_line(count: int, at_tokens: int | None = None) -> str:
    at = f" at {at_tokens:,} tokens" if at_tokens is not None else ""
    times = "" if at_tokens is not None else f" {count}×"
    return f'↪ QwQ ended its thinking early{at} (think_min): continued{times} with "Wait,"'


# The marks (✂ ↻ ↪ ■) are in DejaVu Sans and the other fonts JupyterLab falls back to; an
# emoji would be a box where no emoji font is installed.


def steering_lines(response: Response) -> list[str]:
    """What steering did to this reply, in sentences: a loop, extended thinking, a cut.

    Shown between the reasoning and the answer, so a reader knows the answer was forced.
    """
    lines = []
    if response.loop is not None:
        lines.append(loop_line(response.loop))
    if response.extensions:
        lines.append(extension_line(response.extensions))
    cut = response.cut
    if cut is not None and (cut.reason != "loop" or response.loop is None):
        line = cut_line(cut)
        lines.append(f"{line}, told: “{cut.closing}”" if cut.closing else line)
    return lines


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
    parts.append(money(response.cost, response.usage.estimated))
    if response.reused:
        parts.append("reused from the notebook")
    if response.calls > 1:
        parts.append(f"{response.calls} calls")
    ran = sum(1 for call in response.tool_calls if call.status)
    if ran:
        rounds = f" in {response.tool_rounds} rounds" if response.tool_rounds > 1 else ""
        parts.append(f"{ran} tool call{'s' if ran > 1 else ''}{rounds}")
    if response.forced:
        parts.append("answer forced")
    if not (response.forced and response.finish_reason == "stop"):
        parts.append(response.finish_reason)
    return " · ".join(parts)


def notice_text(response: Response) -> str | None:
    """A plain sentence for a reply that did not finish normally, else None."""
    reason = response.finish_reason
    if reason == "length":
        where = " while still reasoning" if not response.answer else ""
        return f"⚠ Stopped at max_tokens{where}: raise max_tokens for a full answer."
    if reason == "interrupted":
        if response.cut is not None and response.cut.action == "stop":
            return "■ Stopped: what arrived is kept."
        return "■ Interrupted: what arrived is kept."
    if reason == "incomplete":
        cause = f" ({response.error})" if response.error else ""
        return f"⚠ The reply was cut off{cause}; what arrived is kept."
    if reason == "error":
        return f"✖ {response.error or 'the call failed'}"
    return None


# --- HTML pieces ---------------------------------------------------------------------------


def note_html(note: str) -> str:
    """A note (the demo banner, trimming, a retry), as plain text.

    Not Markdown: a retry note carries the server's error message, and a message that
    starts with a code fence would otherwise turn the whole note into an empty code block.
    """
    return block(
        f"<p>{escape(note)}</p>",
        "qwq-note",
        "opacity: 0.75; border-left: 3px solid; padding-left: 0.6em; margin-bottom: 0.4em",
    )


def reasoning_html(summary: str, reasoning: str) -> str:
    """Reasoning folded under its summary line, shown exactly as written (never parsed)."""
    return (
        f'<details class="qwq-reasoning"><summary>{escape(summary)}</summary>'
        f"{preformatted(reasoning.strip())}</details>"
    )


def answer_html(answer: str) -> str:
    """The model's Markdown, its math typeset."""
    return block(markdown(answer), "qwq-answer")


def tool_call_html(name: str, arguments: Any) -> str:
    text = json.dumps(arguments, ensure_ascii=False, indent=1, default=str)
    return block(f"<p>🔧 tool call <b>{escape(str(name))}</b></p>{preformatted(text)}", "qwq-tool")


def steering_html(line: str) -> str:
    """A line of our own about steering: plain text, in the style of a note."""
    return block(
        f"<p>{escape(line)}</p>",
        "qwq-steering",
        "opacity: 0.85; border-left: 3px solid; padding-left: 0.6em; margin: 0.4em 0",
    )


def footer_html(text: str) -> str:
    return block(f'<sub style="opacity: 0.8">{escape(text)}</sub>', "qwq-footer")


def anatomy_line(response: Response) -> str:
    """The reasoning's anatomy in one line, for the footer (`--anatomy`)."""
    return f"anatomy: {response.anatomy().summary()}" if response.reasoning else ""


def render_html(
    response: Response,
    *,
    show_reasoning: bool = True,
    notes: list[str] | tuple[str, ...] = (),
    footer: bool = True,
    anatomy: bool = False,
    fold: bool = False,
) -> str:
    """The final output of a call: notes, folded reasoning, answer, tool calls, notice, footer."""
    blocks = [note_html(note) for note in notes]
    if show_reasoning and response.reasoning:
        blocks.append(reasoning_html(reasoning_summary(response), response.reasoning))
    blocks += [steering_html(line) for line in steering_lines(response)]
    ran = [call for call in response.tool_calls if call.status]  # ours: before the answer
    blocks.append(tool_calls_html(ran) if ran else "")
    if response.answer:
        answer = answer_html(response.answer)
        blocks.append(
            f"<details><summary>{escape(FOLDED)}</summary>{answer}</details>" if fold else answer
        )
    asked = [call for call in response.tool_calls if not call.status]  # the user's to run
    blocks += [tool_call_html(call.name, call.arguments) for call in asked]
    notice = notice_text(response)
    if notice:
        blocks.append(block(f"<p><b>{escape(notice)}</b></p>", "qwq-notice"))
    if footer and response.finish_reason != "error":
        blocks.append(footer_html(footer_text(response)))
        if anatomy and response.reasoning:
            blocks.append(footer_html(anatomy_line(response)))
    return document(blocks)


def render_plain(
    response: Response,
    *,
    notes: list[str] | tuple[str, ...] = (),
    footer: bool = True,
    anatomy: bool = False,
    fold: bool = False,
) -> str:
    """The same, as plain text for terminals and `text/plain`: control characters shown."""
    lines = [f"note: {note}" for note in notes]
    if response.reasoning:
        lines.append(f"[{reasoning_summary(response)}]")
    lines += steering_lines(response)
    lines += tool_calls_plain([call for call in response.tool_calls if call.status])
    if response.answer:
        lines.append(f"[{FOLDED}]" if fold else response.answer)
    for call in response.tool_calls:
        if not call.status:
            lines.append(f"tool call {call.name}({call.arguments})")
    notice = notice_text(response)
    if notice:
        lines.append(notice)
    if footer and response.finish_reason != "error":
        lines.append(f"[{footer_text(response)}]")
        if anatomy and response.reasoning:
            lines.append(f"[{anatomy_line(response)}]")
    return printable("\n\n".join(lines))


def response_bundle(
    response: Response,
    *,
    show_reasoning: bool = True,
    notes: list[str] | tuple[str, ...] = (),
    footer: bool = True,
    anatomy: bool = False,
    fold: bool = False,
) -> dict[str, str]:
    """The MIME bundle of a finished call (see `_html` for why HTML and not Markdown)."""
    return {
        "text/html": render_html(
            response,
            show_reasoning=show_reasoning,
            notes=notes,
            footer=footer,
            anatomy=anatomy,
            fold=fold,
        ),
        "text/plain": render_plain(
            response, notes=notes, footer=footer, anatomy=anatomy, fold=fold
        ),
    }


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
            if not frontend().notebook:
                display({"text/plain": repr(self)}, raw=True)
            return
        display(response_bundle(self), raw=True)

    @classmethod
    def wrap(cls, response: Response, cell: int | None) -> DisplayedResponse:
        fields = {name: getattr(response, name) for name in Response.__dataclass_fields__}
        displayed = cls(**fields)
        displayed._shown_in_cell = cell
        return displayed


def plural(count: int, word: str) -> str:
    """'1 turn', '2 turns': counts read as words do."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


class Rendered:
    """An output in two forms: safe HTML for notebooks, printable text for terminals."""

    def __init__(self, html: str, plain: str) -> None:
        self.html = html
        self.plain = printable(plain)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.plain}

    def __repr__(self) -> str:
        return self.plain
