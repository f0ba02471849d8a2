"""Tool calls and their results in a conversation, as each wire format carries them.

Inside qwq-jupyter a round of tools is two kinds of message, whatever the server:

    {"role": "assistant", "content": "", "tool_calls": [{"id", "name", "arguments": {…}}]}
    {"role": "tool", "tool_call_id": "…", "name": "…", "content": "the result as text"}

OpenAI-compatible servers take them nearly so: the call nested under `function`, with its
arguments as JSON text, and tool messages keyed by `tool_call_id`. Workers AI's native
schema allows only `{role, content, tool_call_id}` per message, so the model's calls travel
as the text QwQ itself writes for them (`<tool_call>` blocks, its chat template's form) and a
result as a `tool` message, which the template wraps in `<tool_response>`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..core.events import ToolCall
from ..core.template import tool_call_text

__all__ = ["native_messages", "openai_messages", "round_messages", "tool_rounds"]

Message = dict[str, Any]


def native_messages(messages: list[Message]) -> list[Message]:
    """`messages` in Workers AI's native shape (unchanged when no tools were used)."""
    return _shaped(messages, _native_calls)


def openai_messages(messages: list[Message]) -> list[Message]:
    """`messages` in the OpenAI chat shape (unchanged when no tools were used)."""
    return _shaped(messages, _openai_calls)


def _shaped(messages: list[Message], calls: Callable[[Message], Message]) -> list[Message]:
    """Each round's calls as `calls` shapes them; each result as `{role, tool_call_id,
    content}`, the one shape both take (Workers AI's schema has no room for more)."""
    if not _has_tools(messages):
        return messages
    shaped: list[Message] = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            shaped.append(calls(message))
        elif message.get("role") == "tool":
            shaped.append(
                {
                    "role": "tool",
                    "tool_call_id": message.get("tool_call_id") or "",
                    "content": message.get("content") or "",
                }
            )
        else:
            shaped.append(message)
    return shaped


def _native_calls(message: Message) -> Message:
    """The calls as QwQ writes them, in the assistant's text, after what it said."""
    said = message.get("content") or ""
    calls = "\n".join(tool_call_text(call) for call in message["tool_calls"])
    return {"role": "assistant", "content": f"{said}\n{calls}" if said else calls}


def _openai_calls(message: Message) -> Message:
    calls = [_openai_call(call) for call in message["tool_calls"]]
    return {"role": "assistant", "content": message.get("content") or "", "tool_calls": calls}


def _openai_call(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call.get("id") or "",
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": text},
    }


def _has_tools(messages: list[Message]) -> bool:
    return any(m.get("role") == "tool" or m.get("tool_calls") for m in messages)


def round_messages(calls: list[ToolCall], said: str = "") -> list[Message]:
    """One round in the conversation: the model's calls, then each call's result.

    Each call goes back with its result or its error line (a call not run has one too); a
    call without either (only described, nothing answered it) is left out, so every call sent
    has its answer, as OpenAI servers require.
    """
    done = [call for call in calls if call.sent_back is not None]
    if not done:
        return []
    asked = [{"id": call.id, "name": call.name, "arguments": call.arguments} for call in done]
    messages: list[Message] = [{"role": "assistant", "content": said, "tool_calls": asked}]
    messages += [
        {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": call.sent_back}
        for call in done
    ]
    return messages


def tool_rounds(calls: list[ToolCall]) -> list[Message]:
    """A turn's rounds of tools, in order, as a later question's history sends them back."""
    rounds: dict[int, list[ToolCall]] = {}
    for call in calls:
        if call.status:  # calls only described were never answered: not part of the history
            rounds.setdefault(call.round, []).append(call)
    return [message for _, done in sorted(rounds.items()) for message in round_messages(done)]
