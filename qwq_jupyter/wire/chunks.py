"""Reading reply chunks and error bodies, in either wire shape.

Workers AI's native endpoint sometimes answers in the OpenAI shape too, and Cloudflare's
OpenAI-compatible endpoint sits on the same hosts, so every reader here accepts both shapes.
The dialects (`dialects.py`) add their own fast path in front; these are what they fall back on.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..core.events import ToolCall, Usage

__all__ = [
    "TEXT_ONLY_NATIVE",
    "Chunk",
    "ToolCallAssembler",
    "native_text",
    "read_chunk",
    "read_error",
    "read_native_chunk",
]


@dataclass(slots=True)
class Chunk:
    """What one reply chunk carries, whichever dialect it came in."""

    text: str = ""
    reasoning: str = ""
    has_reasoning_field: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None


def read_error(body: Any) -> tuple[int | str | None, str] | None:
    """(code, message) of an error body, either dialect's shape; None if it is no error.

    Cloudflare: {"success": false, "errors": [{"code": N, "message": "…"}]};
    OpenAI-compatible servers: {"error": {"code": …, "message": "…"}} or {"error": "…"}.
    """
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if body.get("success") is not True and isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict):
            return first.get("code"), str(first.get("message", ""))
        return None, str(first)
    error = body.get("error")
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message", ""))
    if isinstance(error, str):
        return None, error
    return None


#: The keys of Workers AI's common streamed chunk, {"response": "…", "p": "…"}.
TEXT_ONLY_NATIVE = frozenset({"response", "p"})
# Keys that make a payload with "response" something other than a plain native chunk.
_NOT_PLAIN_NATIVE = frozenset({"choices", "reasoning_content", "reasoning", "result"})


def native_text(data: dict[str, Any]) -> str | None:
    """The text of Workers AI's common chunk, {"response": "…", "p": "…"}; None for others.

    Called once per token on Workers AI: a dictionary lookup and a key-set comparison.
    """
    text = data.get("response")
    if type(text) is str and text and data.keys() <= TEXT_ONLY_NATIVE:
        return text
    return None


def read_chunk(data: dict[str, Any]) -> Chunk:
    """Read a streamed chunk or a whole non-streamed reply (native or OpenAI shaped)."""
    if "response" in data and not _NOT_PLAIN_NATIVE.intersection(data):
        return read_native_chunk(data)  # the common case on Workers AI, kept fast
    if isinstance(data.get("result"), dict):
        data = data["result"]  # the non-streaming native envelope
    chunk = Chunk()
    usage = data.get("usage")
    if isinstance(usage, dict):
        chunk.usage = Usage.from_wire(usage)
    choices = data.get("choices")
    if isinstance(choices, list) and choices:
        choice = choices[0] if isinstance(choices[0], dict) else {}
        # A completions reply (a raw continuation) carries `text` where chat has a delta.
        part = choice.get("delta") or choice.get("message") or {"content": choice.get("text")}
        chunk.finish_reason = choice.get("finish_reason")
    else:
        part = data
        chunk.finish_reason = data.get("finish_reason")
    if not isinstance(part, dict):
        return chunk
    text = part.get("response") if "response" in part else part.get("content")
    chunk.text = text if isinstance(text, str) else ""
    for name in ("reasoning_content", "reasoning"):
        value = part.get(name)
        if isinstance(value, str):
            chunk.has_reasoning_field = True
            chunk.reasoning = value
            break
    calls = part.get("tool_calls")
    if isinstance(calls, list):
        chunk.tool_calls = [call for call in calls if isinstance(call, dict)]
    return chunk


def read_native_chunk(data: dict[str, Any]) -> Chunk:
    """A plain native chunk: {"response": …} with optional usage, tool calls, finish reason."""
    text = data["response"]
    usage = data.get("usage")
    calls = data.get("tool_calls")
    return Chunk(
        text=text if isinstance(text, str) else "",
        tool_calls=[c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else [],
        usage=Usage.from_wire(usage) if isinstance(usage, dict) else None,
        finish_reason=data.get("finish_reason"),
    )


class ToolCallAssembler:
    """Joins tool calls: whole (native) or in fragments keyed by index (OpenAI streaming)."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, Any]] = {}

    def add(self, calls: list[dict[str, Any]]) -> int:
        """Add calls or fragments; returns the characters they added (for the size bound)."""
        added = 0
        for call in calls:
            # OpenAI streams send fragments of one call under the same index; native replies
            # send whole calls without one, each a new call.
            index = call["index"] if isinstance(call.get("index"), int) else len(self._parts)
            slot = self._parts.setdefault(index, {"id": None, "name": "", "arguments": ""})
            function = call.get("function")
            if not isinstance(function, dict):
                function = call
            slot["id"] = call.get("id") or slot["id"]
            name = function.get("name")
            if isinstance(name, str):
                slot["name"] += name
                added += len(name)
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                slot["arguments"] += arguments
                added += len(arguments)
            elif arguments is not None:
                slot["arguments"] = arguments
                added += len(repr(arguments))
        return added

    def finish(self) -> list[ToolCall]:
        calls = [_tool_call(slot) for _, slot in sorted(self._parts.items())]
        self._parts.clear()
        return calls


def _tool_call(slot: dict[str, Any]) -> ToolCall:
    arguments = slot["arguments"]
    if isinstance(arguments, str):
        # Unparseable arguments stay a string: the caller sees exactly what the model wrote.
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.loads(arguments) if arguments else {}
    return ToolCall(name=slot["name"], arguments=arguments, id=slot["id"])
