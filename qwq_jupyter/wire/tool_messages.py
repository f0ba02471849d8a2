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
from typing import Any

from ..core.template import tool_call_text

__all__ = ["native_messages", "openai_messages"]

Message = dict[str, Any]


def native_messages(messages: list[Message]) -> list[Message]:
    """`messages` in Workers AI's native shape (unchanged when no tools were used)."""
    if not _has_tools(messages):
        return messages
    shaped: list[Message] = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            said = message.get("content") or ""
            calls = "\n".join(tool_call_text(call) for call in message["tool_calls"])
            shaped.append({"role": "assistant", "content": f"{said}\n{calls}" if said else calls})
        elif message.get("role") == "tool":
            shaped.append(
                {
                    "role": "tool",
                    "content": message.get("content") or "",
                    "tool_call_id": message.get("tool_call_id") or "",
                }
            )
        else:
            shaped.append(message)
    return shaped


def openai_messages(messages: list[Message]) -> list[Message]:
    """`messages` in the OpenAI chat shape (unchanged when no tools were used)."""
    if not _has_tools(messages):
        return messages
    shaped: list[Message] = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            shaped.append(
                {
                    "role": "assistant",
                    "content": message.get("content") or "",
                    "tool_calls": [_openai_call(call) for call in message["tool_calls"]],
                }
            )
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
