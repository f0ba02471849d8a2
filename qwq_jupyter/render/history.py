"""`%qwq history`: a conversation's turns, each rendered on its own.

Each prompt and each answer is a separate piece of HTML, so an unclosed code fence in one turn
cannot re-pair the fences of a later one, as it would if the turns were joined into one text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .html import block, document, escape, markdown
from .render import Rendered, plural
from .tools import tool_calls_html, tool_calls_plain

if TYPE_CHECKING:
    from ..session.conversation import Conversation

__all__ = ["history_output"]


def history_output(conversation: Conversation) -> Rendered:
    title = f"Conversation {conversation.name!r}: {plural(len(conversation.turns), 'turn')}"
    blocks = [f"<h4>{escape(title)}</h4>"]
    lines = [title]
    if conversation.system_prompt:
        blocks.append(_speaker("system", markdown(conversation.system_prompt, math=False)))
        lines.append(f"system: {conversation.system_prompt}")
    for number, turn in enumerate(conversation.turns, 1):
        sent = "" if turn.in_history else f" (not sent back: {turn.response.finish_reason})"
        answer = markdown(turn.answer) if turn.answer else "<p><i>(no answer)</i></p>"
        ran = [call for call in turn.response.tool_calls if call.status]  # sent back too
        blocks.append(
            block(
                _speaker(f"{number}. you{sent}", markdown(turn.prompt, math=False))
                + tool_calls_html(ran)
                + _speaker("QwQ", answer),
                "qwq-turn",
                "margin-bottom: 0.8em",
            )
        )
        lines += [f"{number}. you{sent}: {turn.prompt}"]
        lines += [f"   {line}" for line in tool_calls_plain(ran)]
        lines += [f"   QwQ: {turn.answer or '(no answer)'}"]
    return Rendered(document(blocks), "\n".join(lines))


def _speaker(label: str, content_html: str) -> str:
    return block(f"<b>{escape(label)}:</b>{content_html}", "qwq-turn")
