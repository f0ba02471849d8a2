"""The script of the fake QwQ server: what each request is answered with.

`Reply` and `Fault` describe a scripted answer; the pure functions here turn a Reply, the
endpoint's dialect and the request body into the JSON payloads to send. Nothing here touches a
socket, so the payloads can be reasoned about (and changed) without the HTTP machinery.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_ASSISTANT_TURN = "<|im_start|>assistant"
_TURN_END = "<|im_end|>"
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
    """One scripted completion: its text, how it travels on the wire, and optional fault.

    `loop_passage` makes a model stuck in a loop: the reply streams `reasoning`, then repeats
    the passage for as long as the client listens, never reaching `</think>` or the answer. A
    request with `max_tokens` gets that many tokens and `finish_reason: "length"`; without it a
    stream only ends when the client hangs up (`QwQTestServer.wait_for_disconnect` sees it) and
    a non-streamed request is never answered. Each copy of the passage is set off by a space
    unless it starts with whitespace, and loses any trailing whitespace (see `loop_copy`).
    `tokens_per_second` paces it like any reply.

    Raw continuations (a Workers AI `raw` prompt or an OpenAI `/completions` prompt that holds
    QwQ's chat template open at the assistant's turn) are answered from where the prompt
    stops: after `</think>` with `answer` alone (no reasoning, no loop), before it with the
    reasoning, `\n</think>` and the answer as plain text, whatever `shape` says.
    """

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
    loop_passage: str | None = None

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES!r}")
        if self.usage not in USAGE_STYLES:
            raise ValueError(f"usage must be one of {USAGE_STYLES!r}")
        if self.loop_passage is not None and not self.loop_passage.strip():
            raise ValueError("loop_passage must contain some text")


def loop_copy(passage: str) -> str:
    """One copy of a looping passage as it is repeated: without trailing whitespace, and set off
    from what precedes it by a space unless it starts with whitespace of its own."""
    passage = passage.rstrip()
    return passage if passage[:1].isspace() else " " + passage


# --- What to send: pure functions from (Reply, dialect, request body) to JSON payloads ---------


@dataclass(frozen=True)
class Piece:
    """One token as sent: the delta field carrying it and whether it counts as reasoning."""

    field: str
    text: str
    reasoning: bool


@dataclass(frozen=True)
class Plan:
    """What a reply becomes for one request, after max_tokens has been applied.

    `loop`, when set, repeats after `pieces` until the client hangs up: the plan never ends.
    """

    pieces: list[Piece]
    tool_calls: list[_Json]
    finish_reason: str
    prompt_tokens: int
    usage_style: str
    reasoning_tokens_in_usage: bool
    shape: str
    loop: list[Piece] | None = None

    def stream(self) -> Iterator[Piece]:
        """Every piece in order: finitely many, or endlessly many for a loop."""
        if self.loop is None:
            return iter(self.pieces)
        return itertools.chain(self.pieces, itertools.cycle(self.loop))

    def usage(self, sent: int | None = None) -> _Json:
        """Cumulative usage after `sent` pieces (all of them by default)."""
        pieces = self.pieces if sent is None else self.pieces[:sent]
        looped = max((sent or 0) - len(self.pieces), 0) if self.loop else 0
        completion = len(pieces) + looped
        usage: _Json = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        if self.reasoning_tokens_in_usage:
            reasoning = sum(piece.reasoning for piece in pieces) + looped
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def text(self, *fields: str) -> str:
        """The concatenated text of the pieces sent in the given delta fields."""
        return "".join(piece.text for piece in self.pieces if piece.field in fields)


def tokens(text: str) -> list[str]:
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


def prompt_tokens(request: _Json) -> int:
    """A deterministic prompt size estimate, so tests can predict usage."""
    messages = request.get("messages")
    if isinstance(messages, list):
        chars = sum(_text_chars(m.get("content")) for m in messages if isinstance(m, dict))
        return chars // 4 + 4 * len(messages)
    return _text_chars(request.get("prompt")) // 4 + 4


def max_tokens(request: _Json) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def continuation(request: _Json, *, raw: bool) -> str | None:
    """Where a raw prompt leaves QwQ's own turn: "answer" when it ends (whitespace aside) with
    `</think>`, "thinking" before that, None when it is not the chat template open at the
    assistant's turn (then the prompt is answered like any other)."""
    prompt = request.get("prompt")
    if not raw or not isinstance(prompt, str):
        return None
    start = prompt.rfind(_ASSISTANT_TURN)
    if start < 0 or _TURN_END in prompt[start:]:
        return None
    return "answer" if prompt.rstrip().endswith("</think>") else "thinking"


def plan(reply: Reply, request: _Json, *, text_only: bool = False) -> Plan:
    """The pieces `reply` sends for `request`; `text_only` for OpenAI's `/completions`."""
    mode = continuation(request, raw=text_only or request.get("raw") is True)
    shape = reply.shape
    if mode is not None or (text_only and shape in _SEPARATE_SHAPES):
        shape = "inline"
    separate = shape in _SEPARATE_SHAPES
    reasoning_field = shape if separate else "content"
    reasoning: list[Piece] = []
    loop = None
    answer_text = reply.answer if separate or mode == "answer" else "\n\n" + reply.answer
    if mode != "answer":
        opening = ["<think>\n"] if shape == "echo" else []
        texts = [*opening, *tokens(reply.reasoning)]
        if reply.loop_passage is not None:
            copy = tokens(loop_copy(reply.loop_passage))
            loop = [Piece(reasoning_field, text, True) for text in copy]
        elif not separate:
            texts.append("\n</think>")
        reasoning = [Piece(reasoning_field, text, True) for text in texts]
    pieces = reasoning
    if loop is None:  # a loop never gets to the answer
        pieces = reasoning + [Piece("content", text, False) for text in tokens(answer_text)]
    tool_calls = [] if text_only or loop is not None else reply.tool_calls
    finish_reason = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
    limit = max_tokens(request)
    if loop is not None and limit is not None:
        stream = itertools.chain(pieces, itertools.cycle(loop))
        pieces, loop, finish_reason = list(itertools.islice(stream, max(limit, 0))), None, "length"
    elif loop is not None:
        finish_reason = "length"
    elif limit is not None and limit < len(pieces):
        pieces, tool_calls, finish_reason = pieces[: max(limit, 0)], [], "length"
    return Plan(
        pieces=pieces,
        tool_calls=tool_calls,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens(request),
        usage_style=reply.usage,
        reasoning_tokens_in_usage=reply.reasoning_tokens_in_usage,
        shape=shape,
        loop=loop,
    )


def never_ends(reply: Reply, request: _Json, *, text_only: bool = False) -> bool:
    """Whether the reply loops with no max_tokens to stop it: a non-streamed request for it
    can only wait until the client gives up."""
    return plan(reply, request, text_only=text_only).loop is not None


def include_usage(request: _Json) -> bool:
    """Whether an OpenAI-style streamed request asked for a final usage chunk."""
    options = request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _native_tool_calls(tool_calls: list[_Json]) -> list[_Json]:
    return [{"name": call["name"], "arguments": call.get("arguments", {})} for call in tool_calls]


def _openai_tool_calls(tool_calls: list[_Json], *, indexed: bool) -> list[_Json]:
    calls = []
    for index, call in enumerate(tool_calls):
        arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
        entry: _Json = {
            "id": call.get("id", f"call_{index}"),  # a test may give one (or repeat one)
            "type": "function",
            "function": {"name": call["name"], "arguments": arguments},
        }
        calls.append({"index": index, **entry} if indexed else entry)
    return calls


def _choice_chunk(delta: _Json) -> _Json:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def set_finish_reason(event: _Json, finish_reason: str | None) -> None:
    if "choices" in event:
        for choice in event["choices"]:
            choice["finish_reason"] = finish_reason
    elif finish_reason is None:
        event.pop("finish_reason", None)
    else:
        event["finish_reason"] = finish_reason


def finish_events(events: Iterable[_Json], plan: Plan, empty: _Json) -> Iterator[_Json]:
    """The events (`empty` if there are none), the last carrying the plan's finish reason and,
    with per-chunk usage, each carrying the usage so far. Lazy, so a loop can go on forever."""
    iterator = iter(events)
    pending = next(iterator, empty)
    sent = 1
    for event in iterator:
        yield _with_usage(pending, plan, sent)
        pending, sent = event, sent + 1
    set_finish_reason(pending, plan.finish_reason)
    yield _with_usage(pending, plan, sent)


def _with_usage(event: _Json, plan: Plan, sent: int) -> _Json:
    if plan.usage_style == "per_chunk":
        event["usage"] = plan.usage(sent)
    return event


def stream_events(reply: Reply, dialect: str, request: _Json, model: str) -> Iterator[_Json]:
    """The SSE payloads (without the final [DONE]) for a streamed reply; endless for a loop."""
    plan_ = plan(reply, request)
    choice_shaped = dialect == "openai" or plan_.shape in _SEPARATE_SHAPES
    make: Callable[[Piece], _Json]
    if choice_shaped:
        make, empty = (lambda piece: _choice_chunk({piece.field: piece.text})), _choice_chunk({})
        calls = _openai_tool_calls(plan_.tool_calls, indexed=True)
        tail = [_choice_chunk({"tool_calls": calls})] if calls else []
    else:
        make, empty = (lambda piece: {"response": piece.text}), {"response": ""}
        calls = _native_tool_calls(plan_.tool_calls)
        tail = [{"response": "", "tool_calls": calls}] if calls else []
    events = finish_events(itertools.chain(map(make, plan_.stream()), tail), plan_, empty)
    if dialect == "native":
        return _native_tail(events, plan_, padded=not choice_shaped)
    role = _choice_chunk({"role": "assistant"})
    return openai_envelope(events, plan_, request, model, first=role)


def _native_tail(events: Iterator[_Json], plan: Plan, *, padded: bool) -> Iterator[_Json]:
    """Add Cloudflare's random `p` padding and the final usage event."""
    rng = random.Random(0)
    for event in events:
        if padded and rng.random() < 0.5:
            event["p"] = _PADDING[: rng.randint(1, len(_PADDING))]
        yield event
    if plan.usage_style == "final":
        yield {"response": "", "usage": plan.usage()}


def openai_envelope(
    events: Iterator[_Json],
    plan: Plan,
    request: _Json,
    model: str,
    *,
    first: _Json | None = None,
    kind: str = "chat.completion.chunk",
) -> Iterator[_Json]:
    """Add the first chunk if any (chat's role-only chunk), the include_usage chunk and the
    chunk envelope (`kind` is the `object` field; a text completion's id starts `cmpl-`)."""
    prefix = "chatcmpl" if kind.startswith("chat") else "cmpl"
    envelope = {
        "id": f"{prefix}-{uuid.uuid4().hex[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }
    if first is not None:
        yield {**envelope, **_with_usage(first, plan, 0)}
    for event in events:
        yield {**envelope, **event}
    if plan.usage_style == "final" and include_usage(request):
        yield {**envelope, "choices": [], "usage": plan.usage()}


def response_body(reply: Reply, dialect: str, request: _Json, model: str) -> _Json:
    """The JSON body of a non-streamed reply (see `never_ends` for one that has none)."""
    plan_ = plan(reply, request)
    content = plan_.text("content")
    reasoning = plan_.text(*_SEPARATE_SHAPES)
    separate = plan_.shape in _SEPARATE_SHAPES
    if dialect == "native":
        result: _Json = {"response": content}
        if separate:
            result[plan_.shape] = reasoning
        result["tool_calls"] = _native_tool_calls(plan_.tool_calls)
        result["finish_reason"] = plan_.finish_reason
        if plan_.usage_style != "none":
            result["usage"] = plan_.usage()
        return {"result": result, "success": True, "errors": [], "messages": []}
    message: _Json = {"role": "assistant", "content": content or None}
    if separate:
        message[plan_.shape] = reasoning
    if plan_.tool_calls:
        message["tool_calls"] = _openai_tool_calls(plan_.tool_calls, indexed=False)
    body: _Json = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": plan_.finish_reason}],
    }
    if plan_.usage_style != "none":
        body["usage"] = plan_.usage()
    return body
