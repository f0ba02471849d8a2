"""The script of the fake QwQ server: what each request is answered with.

`Reply` and `Fault` describe a scripted answer; the pure functions here turn a Reply, the
endpoint's dialect and the request body into the JSON payloads to send. Nothing here touches a
socket, so the payloads can be reasoned about (and changed) without the HTTP machinery.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

_Json = dict[str, Any]

DEFAULT_MODEL = "@cf/qwen/qwq-32b"
DEFAULT_REASONING = (
    "Okay, the user wants to know what 6 × 7 is. Multiplication is repeated addition, so I add "
    "six seven times: 6, 12, 18, 24, 30, 36, 42. Let me double-check the other way round: "
    "7 × 6 is also 42. So the product is 42."
)
DEFAULT_ANSWER = "6 × 7 = **42**."
SHAPES = ("inline", "echo", "reasoning_content", "reasoning")
USAGE_STYLES = ("final", "per_chunk", "none")
LINE_ENDINGS = ("\n", "\r\n", "\r")

_SEPARATE_SHAPES = ("reasoning_content", "reasoning")
_CONTEXT_MESSAGE = (
    "AiError: Bad input: Error: estimated number of input and maximum output tokens ({tokens}) "
    "exceeded this model context window limit (24000)"
)
_FREE_ALLOCATION_MESSAGE = (
    "AiError: you have used up your daily free allocation of 10,000 neurons, please upgrade to "
    "Cloudflare's Workers Paid plan if you would like to continue usage."
)
# Workers AI error code -> (HTTP status, realistic message), as Cloudflare documents them.
_ERROR_CODES: dict[int, tuple[int, str]] = {
    3003: (400, "Incomplete request"),
    5006: (400, "Bad input"),
    5007: (400, "No such model"),
    10000: (401, "Authentication error"),
    3023: (403, "Account blocked"),
    3041: (403, "Account not allowed for private model"),
    5016: (403, "Model agreement required: submit 'agree' first"),
    5018: (403, "Account not allowed for private model"),
    3042: (404, "Invalid model ID"),
    3007: (408, "Request timeout"),
    3008: (408, "Request aborted"),
    3046: (408, "Request timeout"),
    3006: (413, "Request is too large"),
    3010: (413, _CONTEXT_MESSAGE),
    5021: (413, _CONTEXT_MESSAGE),
    3036: (429, _FREE_ALLOCATION_MESSAGE),
    4006: (429, _FREE_ALLOCATION_MESSAGE),
    3040: (429, "Capacity temporarily exceeded, please try again."),
}
_STATUS_DEFAULT_CODES = {
    400: 5006,
    401: 10000,
    403: 3023,
    404: 3042,
    408: 3007,
    413: 3010,
    429: 3040,
}
_WORKERS_AI_DEFAULT_MAX_TOKENS = 256
_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_PADDING = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class Fault:
    """A scripted misbehaviour: an HTTP error answer, or a stream that breaks in a given way.

    Setting `status` or `code` makes an error answer. The stream options apply to streamed
    replies; on a non-streamed request only `reset_after` (abort at once) and `stall_after`
    (answer nothing) have an effect.

    Hostile servers: `raw_body` is sent as is in place of any reply (with `status`, default 200,
    `content_type`, `content_encoding` and `headers`; see `gzip_bomb`); `events` streams these
    `data:` payloads verbatim, then `[DONE]`; `endless` streams reasoning tokens at full speed
    until the client hangs up; `drip` writes the body one byte per `drip` seconds (and the
    status line and headers too with `drip_head`).
    """

    status: int | None = None
    code: int | None = None
    message: str = ""
    retry_after: float | None = None
    reset_after: int | None = None
    stall_after: int | None = None
    close_without_done: bool = False
    malformed: bool = False
    byte_per_write: bool = False
    line_ending: str = "\n"
    split_utf8: bool = False
    bare_done: bool = False
    no_finish_reason: bool = False  # end with [DONE] but never say why (some servers do)
    error_after: int | None = None  # after K events, an error event and [DONE] (as vLLM does)
    raw_body: bytes | None = None
    content_type: str = "application/json"
    content_encoding: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] | None = None
    endless: bool = False
    drip: float | None = None
    drip_head: bool = False
    times: int = 1

    def __post_init__(self) -> None:
        if self.line_ending not in LINE_ENDINGS:
            raise ValueError(f"line_ending must be one of {LINE_ENDINGS!r}")
        if self.times < 1:
            raise ValueError("times must be at least 1")

    @property
    def is_error(self) -> bool:
        """Whether this fault answers with an HTTP error instead of a completion."""
        return self.raw_body is None and (self.status is not None or self.code is not None)

    @property
    def hostile(self) -> bool:
        """Whether this fault replaces the reply with hand-made bytes or events."""
        return self.raw_body is not None or self.events is not None or self.endless


def gzip_bomb(size: int, fill: bytes = b"\0") -> bytes:
    """Gzip data that inflates to `size` bytes of `fill`, built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = fill * (1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    parts.append(packer.compress(fill * (size % (1 << 20))))
    parts.append(packer.flush())
    return b"".join(parts)


@dataclass
class Reply:
    """One scripted completion: its text, how it travels on the wire, and optional fault."""

    reasoning: str = DEFAULT_REASONING
    answer: str = DEFAULT_ANSWER
    shape: str = "inline"
    tool_calls: list[_Json] = field(default_factory=list)
    usage: str = "final"
    reasoning_tokens_in_usage: bool = False
    tokens_per_second: float | None = None
    finish_reason: str | None = None
    latency: float = 0.0
    fault: Fault | None = None

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES!r}")
        if self.usage not in USAGE_STYLES:
            raise ValueError(f"usage must be one of {USAGE_STYLES!r}")


# --- What to send: pure functions from (Reply, dialect, request body) to JSON payloads ---------


@dataclass(frozen=True)
class _Piece:
    """One token as sent: the delta field carrying it and whether it counts as reasoning."""

    field: str
    text: str
    reasoning: bool


@dataclass(frozen=True)
class _Plan:
    """What a reply becomes for one request, after max_tokens has been applied."""

    pieces: list[_Piece]
    tool_calls: list[_Json]
    finish_reason: str
    prompt_tokens: int
    usage_style: str
    reasoning_tokens_in_usage: bool

    def usage(self, sent: int | None = None) -> _Json:
        """Cumulative usage after `sent` pieces (all of them by default)."""
        pieces = self.pieces if sent is None else self.pieces[:sent]
        usage: _Json = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": self.prompt_tokens + len(pieces),
        }
        if self.reasoning_tokens_in_usage:
            reasoning = sum(piece.reasoning for piece in pieces)
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def text(self, *fields: str) -> str:
        """The concatenated text of the pieces sent in the given delta fields."""
        return "".join(piece.text for piece in self.pieces if piece.field in fields)


def _tokens(text: str) -> list[str]:
    """Split text into token-like pieces whose concatenation restores it exactly."""
    return _TOKEN_RE.findall(text)


def _text_chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(
            len(part["text"])
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return 0


def _prompt_tokens(request: _Json) -> int:
    """A deterministic prompt size estimate, so tests can predict usage."""
    messages = request.get("messages")
    if isinstance(messages, list):
        chars = sum(_text_chars(m.get("content")) for m in messages if isinstance(m, dict))
        return chars // 4 + 4 * len(messages)
    return _text_chars(request.get("prompt")) // 4 + 4


def _max_tokens(request: _Json) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _plan(reply: Reply, request: _Json) -> _Plan:
    if reply.shape in _SEPARATE_SHAPES:
        reasoning = [_Piece(reply.shape, text, True) for text in _tokens(reply.reasoning)]
        answer = [_Piece("content", text, False) for text in _tokens(reply.answer)]
    else:
        opening = ["<think>\n"] if reply.shape == "echo" else []
        reasoning_texts = [*opening, *_tokens(reply.reasoning), "\n</think>"]
        reasoning = [_Piece("content", text, True) for text in reasoning_texts]
        answer = [_Piece("content", text, False) for text in _tokens("\n\n" + reply.answer)]
    pieces = reasoning + answer
    limit = _max_tokens(request)
    if limit is not None and limit < len(pieces):
        pieces, tool_calls, finish_reason = pieces[: max(limit, 0)], [], "length"
    else:
        tool_calls = reply.tool_calls
        finish_reason = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
    return _Plan(
        pieces=pieces,
        tool_calls=tool_calls,
        finish_reason=finish_reason,
        prompt_tokens=_prompt_tokens(request),
        usage_style=reply.usage,
        reasoning_tokens_in_usage=reply.reasoning_tokens_in_usage,
    )


def _native_tool_calls(tool_calls: list[_Json]) -> list[_Json]:
    return [{"name": call["name"], "arguments": call.get("arguments", {})} for call in tool_calls]


def _openai_tool_calls(tool_calls: list[_Json], *, indexed: bool) -> list[_Json]:
    calls = []
    for index, call in enumerate(tool_calls):
        arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
        entry: _Json = {
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": call["name"], "arguments": arguments},
        }
        calls.append({"index": index, **entry} if indexed else entry)
    return calls


def _choice_chunk(delta: _Json) -> _Json:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def set_finish_reason(event: _Json, finish_reason: str | None) -> None:
    if "choices" in event:
        event["choices"][0]["finish_reason"] = finish_reason
    elif finish_reason is None:
        event.pop("finish_reason", None)
    else:
        event["finish_reason"] = finish_reason


def stream_events(reply: Reply, dialect: str, request: _Json, model: str) -> list[_Json]:
    """The SSE payloads (without the final [DONE]) for a streamed reply."""
    plan = _plan(reply, request)
    choice_shaped = dialect == "openai" or reply.shape in _SEPARATE_SHAPES
    if choice_shaped:
        events = [_choice_chunk({piece.field: piece.text}) for piece in plan.pieces]
        if plan.tool_calls:
            calls = _openai_tool_calls(plan.tool_calls, indexed=True)
            events.append(_choice_chunk({"tool_calls": calls}))
    else:
        events = [{"response": piece.text} for piece in plan.pieces]
        if plan.tool_calls:
            events.append({"response": "", "tool_calls": _native_tool_calls(plan.tool_calls)})
    if not events:
        events.append(_choice_chunk({}) if choice_shaped else {"response": ""})
    set_finish_reason(events[-1], plan.finish_reason)
    if plan.usage_style == "per_chunk":
        for sent, event in enumerate(events, start=1):
            event["usage"] = plan.usage(sent)
    if dialect == "native":
        return _native_tail(events, plan, padded=not choice_shaped)
    return _openai_envelope(events, plan, request, model)


def _native_tail(events: list[_Json], plan: _Plan, *, padded: bool) -> list[_Json]:
    """Add Cloudflare's random `p` padding and the final usage event."""
    if padded:
        rng = random.Random(len(events))
        for event in events:
            if rng.random() < 0.5:
                event["p"] = _PADDING[: rng.randint(1, len(_PADDING))]
    if plan.usage_style == "final":
        events.append({"response": "", "usage": plan.usage()})
    return events


def _openai_envelope(events: list[_Json], plan: _Plan, request: _Json, model: str) -> list[_Json]:
    """Add the role-only first chunk, the include_usage chunk and the chunk envelope."""
    role = _choice_chunk({"role": "assistant"})
    if plan.usage_style == "per_chunk":
        role["usage"] = plan.usage(0)
    events.insert(0, role)
    stream_options = request.get("stream_options")
    if (
        plan.usage_style == "final"
        and isinstance(stream_options, dict)
        and stream_options.get("include_usage") is True
    ):
        events.append({"choices": [], "usage": plan.usage()})
    envelope = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    return [{**envelope, **event} for event in events]


def response_body(reply: Reply, dialect: str, request: _Json, model: str) -> _Json:
    """The JSON body of a non-streamed reply."""
    plan = _plan(reply, request)
    content = plan.text("content")
    reasoning = plan.text(*_SEPARATE_SHAPES)
    if dialect == "native":
        result: _Json = {"response": content}
        if reply.shape in _SEPARATE_SHAPES:
            result[reply.shape] = reasoning
        result["tool_calls"] = _native_tool_calls(plan.tool_calls)
        result["finish_reason"] = plan.finish_reason
        if plan.usage_style != "none":
            result["usage"] = plan.usage()
        return {"result": result, "success": True, "errors": [], "messages": []}
    message: _Json = {"role": "assistant", "content": content or None}
    if reply.shape in _SEPARATE_SHAPES:
        message[reply.shape] = reasoning
    if plan.tool_calls:
        message["tool_calls"] = _openai_tool_calls(plan.tool_calls, indexed=False)
    body: _Json = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": plan.finish_reason}],
    }
    if plan.usage_style != "none":
        body["usage"] = plan.usage()
    return body


def error_body(openai_style: bool, code: int, message: str) -> _Json:
    if openai_style:
        return {"error": {"code": str(code), "message": message}}
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "result": None,
        "messages": [],
    }


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def fault_error(fault: Fault, request: _Json) -> tuple[int, int, str]:
    """Status, code and message of an error fault, filling in whichever were left out.

    A status without a known Workers AI code (e.g. 503) uses the status number as its code.
    """
    status = fault.status
    code = fault.code if fault.code is not None else _STATUS_DEFAULT_CODES.get(status or 0)
    if code is None:
        code = status or 500
    known_status, known_message = _ERROR_CODES.get(code, (400, ""))
    status = status if status is not None else known_status
    max_tokens = _max_tokens(request)
    tokens = _prompt_tokens(request) + (
        _WORKERS_AI_DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    )
    message = fault.message or known_message.format(tokens=tokens) or status_phrase(status)
    return status, code, message
