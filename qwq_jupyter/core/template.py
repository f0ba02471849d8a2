"""QwQ's chat template, for raw prompts and for showing what the model actually reads.

It follows Qwen's published template: tools are listed in the system turn inside `<tools>`,
the model's calls are `<tool_call>` blocks in its turn, and results go back in a user turn
as `<tool_response>` blocks. A raw continuation (a cut or extended thinking) of a call that
used tools therefore shows QwQ the calls and results exactly as the chat route did.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from .events import ToolCall

__all__ = [
    "GENERATION_PROMPT",
    "apply_chat_template",
    "calls_in_text",
    "tool_call_text",
    "without_calls",
]

#: A call as QwQ writes it in text, when the server has no tool parser to take it out.
_WRITTEN_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)
#: Most calls read from one reply's text.
MAX_WRITTEN_CALLS = 16
#: A fenced code block (to its closing fence, or the end): calls shown there are examples.
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}).*?(?:^[ \t]*\1|\Z)", re.DOTALL | re.MULTILINE)

#: How the template opens the model's turn: QwQ starts inside its reasoning.
GENERATION_PROMPT = "<|im_start|>assistant\n<think>\n"

_TOOLS_INTRO = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_OUTRO = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


def apply_chat_template(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> str:
    """The text QwQ sees for `messages` (earlier answers only; reasoning never goes back)."""
    parts: list[str] = []
    messages = list(messages)
    if tools:
        system = ""
        if _is(messages, 0, "system"):
            system = messages.pop(0).get("content") or ""
        listed = "".join("\n" + json.dumps(_function(tool), ensure_ascii=False) for tool in tools)
        intro = f"{system}\n\n{_TOOLS_INTRO}" if system else _TOOLS_INTRO
        parts.append(f"<|im_start|>system\n{intro}{listed}{_TOOLS_OUTRO}<|im_end|>\n")
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content") or ""
        if role == "tool":
            opening = "" if _is(messages, index - 1, "tool") else "<|im_start|>user"
            closing = "" if _is(messages, index + 1, "tool") else "<|im_end|>\n"
            parts.append(f"{opening}\n<tool_response>\n{content}\n</tool_response>{closing}")
        elif role == "assistant" and message.get("tool_calls"):
            calls = "".join("\n" + tool_call_text(call) for call in message["tool_calls"])
            said = f"\n{content}" if content else ""
            parts.append(f"<|im_start|>assistant{said}{calls}<|im_end|>\n")
        else:
            parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
    return "".join(parts) + GENERATION_PROMPT


def tool_call_text(call: dict[str, Any]) -> str:
    """One call as QwQ writes it: `<tool_call>` around `{"name": …, "arguments": {…}}`."""
    function = _function(call)
    arguments = function.get("arguments")
    if isinstance(arguments, str):  # the OpenAI shape carries the arguments as JSON text
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments)
    data = {"name": function.get("name"), "arguments": arguments}
    return f"<tool_call>\n{json.dumps(data, ensure_ascii=False)}\n</tool_call>"


def _function(item: dict[str, Any]) -> dict[str, Any]:
    """`{type: function, function: {…}}` → its function; other shapes as they are."""
    function = item.get("function")
    return function if isinstance(function, dict) else item


def _is(messages: list[dict[str, Any]], index: int, role: str) -> bool:
    return 0 <= index < len(messages) and messages[index].get("role") == role


def calls_in_text(text: str) -> list[ToolCall]:
    """The `<tool_call>{"name": …, "arguments": {…}}</tool_call>` blocks QwQ wrote in `text`.

    A server without a tool parser (or with none for this model) leaves QwQ's calls in the
    answer as its chat template taught it to write them. Only well-formed blocks count: JSON
    objects with a text `name`; `arguments` an object or JSON text of one.
    """
    if "<tool_call>" not in text:
        return []
    calls: list[ToolCall] = []
    for match in _written(text):
        try:
            data = json.loads(match.group(1))
        except (ValueError, RecursionError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            continue
        arguments = data.get("arguments", {})
        if isinstance(arguments, str):
            # Unreadable arguments stay as written: the check against the schema says what is wrong.
            with contextlib.suppress(ValueError, RecursionError):
                arguments = json.loads(arguments) if arguments.strip() else {}
        calls.append(ToolCall(data["name"], arguments))
        if len(calls) == MAX_WRITTEN_CALLS:
            break
    return calls


def without_calls(text: str) -> str:
    """`text` with the `<tool_call>` blocks taken out: what the model said around them."""
    kept, start = [], 0
    for match in _written(text):
        kept.append(text[start : match.start()])
        start = match.end()
    return ("".join(kept) + text[start:]).strip()


def _written(text: str) -> list[re.Match[str]]:
    """The `<tool_call>` blocks outside fenced code (inside one, a call is an example)."""
    if "<tool_call>" not in text:
        return []
    fenced = [match.span() for match in _FENCE.finditer(text)]
    return [
        match
        for match in _WRITTEN_CALL.finditer(text)
        if not any(start <= match.start() < end for start, end in fenced)
    ]
