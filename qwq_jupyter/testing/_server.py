"""A fake QwQ-32B server that speaks the Workers AI and OpenAI wire formats over real HTTP.

HTTP/1.1 is written by hand on asyncio streams because fault injection (resets, stalls, bytes
split mid-character) needs control over every byte sent. The server runs its own event loop in
a daemon thread, so sync tests, notebooks and async code can all use it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

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


@dataclass
class RecordedRequest:
    """A request as the server saw it, with credentials redacted so it is safe to print."""

    method: str
    path: str
    headers: dict[str, str]
    body: _Json | None


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


def _set_finish(event: _Json, finish_reason: str | None) -> None:
    if "choices" in event:
        event["choices"][0]["finish_reason"] = finish_reason
    elif finish_reason is None:
        event.pop("finish_reason", None)
    else:
        event["finish_reason"] = finish_reason


def _stream_events(reply: Reply, dialect: str, request: _Json, model: str) -> list[_Json]:
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
    _set_finish(events[-1], plan.finish_reason)
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


def _response_body(reply: Reply, dialect: str, request: _Json, model: str) -> _Json:
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


def _error_body(openai_style: bool, code: int, message: str) -> _Json:
    if openai_style:
        return {"error": {"code": str(code), "message": message}}
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "result": None,
        "messages": [],
    }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _fault_error(fault: Fault, request: _Json) -> tuple[int, int, str]:
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
    message = fault.message or known_message.format(tokens=tokens) or _phrase(status)
    return status, code, message


# --- How to send it: SSE framing, HTTP chunking and byte-level faults --------------------------


def _sse_frames(events: list[_Json], fault: Fault | None) -> list[tuple[bytes, bool]]:
    """Frame payloads as SSE events; the flag marks events counted by reset/stall_after."""
    fault = fault or Fault()
    eol = fault.line_ending

    def frame(line: str) -> bytes:
        return (line + eol + eol).encode()

    frames: list[tuple[bytes, bool]] = []
    for index, event in enumerate(events):
        if fault.error_after is not None and index == fault.error_after:
            error = {"error": {"message": "internal error while generating", "code": 500}}
            frames.append((frame("data: " + json.dumps(error)), True))
            break
        if fault.close_without_done or fault.no_finish_reason:
            _set_finish(event, None)
        frames.append((frame("data: " + json.dumps(event, ensure_ascii=False)), True))
        if fault.malformed and index % 2 == 0:
            frames.append((frame("data: {not json"), False))
        if fault.malformed and index == 1:
            frames.append((frame(": keep-alive"), False))
    if not fault.close_without_done:
        frames.append((frame("[DONE]" if fault.bare_done else "data: [DONE]"), True))
    return frames


def _writes(data: bytes, fault: Fault | None) -> list[bytes]:
    """Cut one SSE frame into the writes (HTTP chunks) the fault asks for."""
    if fault is not None and fault.byte_per_write:
        return [data[i : i + 1] for i in range(len(data))]
    if fault is not None and fault.split_utf8:
        cuts = [i + 1 for i, byte in enumerate(data) if byte >= 0xC0]
        bounds = [0, *cuts, len(data)]
        return [data[a:b] for a, b in itertools.pairwise(bounds) if a < b]
    return [data]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _set_on_eof(reader: asyncio.StreamReader, gone: asyncio.Event) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass
    gone.set()


@contextlib.asynccontextmanager
async def _client_watch(reader: asyncio.StreamReader) -> AsyncIterator[asyncio.Event]:
    """An event set when the client closes its side, read concurrently with our writing."""
    gone = asyncio.Event()
    task = asyncio.create_task(_set_on_eof(reader, gone))
    try:
        yield gone
    finally:
        task.cancel()


async def _wait(event: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), delay)


# --- HTTP/1.1 requests and routing -------------------------------------------------------------


class _HttpError(Exception):
    """A request too broken to route; answered with this status and the connection closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class _HttpRequest:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    raw_body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def keep_alive(self) -> bool:
        return self.version == "HTTP/1.1" and self.headers.get("connection", "").lower() != "close"

    def json(self) -> _Json | None:
        try:
            body = json.loads(self.raw_body)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def recorded(self) -> RecordedRequest:
        headers = {
            name: "<redacted>" if "authorization" in name else value
            for name, value in self.headers.items()
        }
        return RecordedRequest(self.method, self.target, headers, self.json())


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    """Read one request, or None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise _HttpError(431) from exc
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise _HttpError(400)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if "chunked" in headers.get("transfer-encoding", ""):
        raise _HttpError(411)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise _HttpError(400) from exc
    body = await reader.readexactly(length) if length > 0 else b""
    return _HttpRequest(parts[0], parts[1], parts[2], headers, body)


@dataclass(frozen=True)
class _Route:
    """A matched endpoint; `account` is None on the plain OpenAI `/v1` base."""

    dialect: str
    account: str | None
    model: str | None


_ROUTES = [
    (re.compile(r"/client/v4/accounts/(?P<account>[^/]+)/ai/v1/chat/completions"), "openai"),
    (re.compile(r"/client/v4/accounts/(?P<account>[^/]+)/ai/run/(?P<model>.+)"), "native"),
    (
        re.compile(r"/gateway/v1/(?P<account>[^/]+)/[^/]+/(workers-ai/v1|compat)/chat/completions"),
        "openai",
    ),
    (re.compile(r"/gateway/v1/(?P<account>[^/]+)/[^/]+/workers-ai/(?P<model>.+)"), "native"),
    (re.compile(r"/v1/chat/completions"), "openai"),
]


def _match_route(method: str, path: str) -> _Route | None:
    if method != "POST":
        return None
    for pattern, dialect in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            groups = match.groupdict()
            model = groups.get("model")
            return _Route(dialect, groups.get("account"), unquote(model) if model else None)
    return None


# --- The server --------------------------------------------------------------------------------


class QwQTestServer:
    """A scripted QwQ server on 127.0.0.1 with an ephemeral port, for tests and offline demos.

    Replies are served in order (`push` appends more); once the script is used up, `responder`
    (a function from the request body to a Reply) or else `default` answers every request.
    Every request is recorded in `requests`.
    """

    def __init__(
        self,
        *replies: Reply,
        token: str = "test-token",
        account_id: str = "test-account",
        default: Reply | None = None,
        port: int = 0,
        responder: Callable[[_Json], Reply] | None = None,
    ) -> None:
        self._token = token
        self._account_id = account_id
        self._default = default or Reply()
        self._responder = responder
        self._requested_port = port
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._disconnected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._port: int | None = None
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.open_streams = 0
        self.peak_open = 0
        #: When each event of the latest stream was written (time.monotonic), for latency
        #: measurements: event i of a native inline stream carries token i.
        self.event_times: list[float] = []
        self.push(*replies)

    # Lifecycle

    def start(self) -> QwQTestServer:
        """Start serving in a daemon thread; returns self once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("QwQTestServer is already running")
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="qwq-test-server", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._loop = self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection, stalled streams included, and join the server thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop = self._thread = self._server = None
        self._port = None

    def __enter__(self) -> QwQTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve_connection, "127.0.0.1", self._requested_port)
            )
        except OSError as exc:
            failure.append(exc)
            loop.close()
            ready.set()
            return
        self._port = self._server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    # Addresses

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT."""
        if self._port is None:
            raise RuntimeError("QwQTestServer is not running; use start() or a with block")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """Stands in for https://api.cloudflare.com/client/v4."""
        return self.url + "/client/v4"

    @property
    def gateway_base(self) -> str:
        """Stands in for https://gateway.ai.cloudflare.com/v1."""
        return self.url + "/gateway/v1"

    @property
    def openai_base_url(self) -> str:
        """A plain OpenAI-compatible base URL (vLLM / Ollama style)."""
        return self.url + "/v1"

    @property
    def token(self) -> str:
        return self._token

    @property
    def account_id(self) -> str:
        return self._account_id

    # Script and observations

    def push(self, *replies: Reply) -> None:
        """Append replies to the script; each serves `fault.times` requests."""
        with self._lock:
            for reply in replies:
                self._queue.extend([reply] * (reply.fault.times if reply.fault else 1))

    @property
    def last_body(self) -> _Json | None:
        """The JSON body of the most recent request, if any."""
        return self.requests[-1].body if self.requests else None

    def wait_for_disconnect(self, timeout: float) -> bool:
        """Wait until a client has closed a connection mid-reply (since the last reset_stats)."""
        return self._disconnected.wait(timeout)

    def reset_stats(self) -> None:
        """Forget disconnects and the concurrency peak (recorded requests are kept)."""
        self.disconnects = 0
        self.peak_open = self.open_streams
        self._disconnected.clear()

    def _next_reply(self, body: _Json) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self._responder(body) if self._responder else self._default

    def _note_disconnect(self) -> None:
        self.disconnects += 1
        self._disconnected.set()

    # Connections

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._serve_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels these tasks. Not re-raised: Python 3.11's start_server
            # callback calls task.exception() on a cancelled task and logs a spurious error.
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; returns whether the connection may carry another one."""
        try:
            request = await _read_request(reader)
        except _HttpError as exc:
            await _send_json(writer, exc.status, {"error": _phrase(exc.status)}, close=True)
            return False
        if request is None:
            return False
        self.requests.append(request.recorded())
        self.open_streams += 1
        self.peak_open = max(self.peak_open, self.open_streams)
        try:
            return await self._answer(request, reader, writer) and request.keep_alive
        finally:
            self.open_streams -= 1

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and credentials.strip() == self._token

    async def _answer(
        self, request: _HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        route = _match_route(request.method, request.path)
        if route is None:
            return await _send_json(writer, 404, _error_body(False, 7000, "No route for that URI"))
        openai_host = route.account is None
        if not self._authorized(request.headers):
            body = _error_body(openai_host, 10000, "Authentication error")
            return await _send_json(writer, 401, body)
        if route.account is not None and route.account != self._account_id:
            message = (
                f"Could not route to {request.path}, perhaps your object identifier is invalid?"
            )
            return await _send_json(writer, 404, _error_body(False, 7003, message))
        body = request.json()
        if body is None:
            message = "Bad input: the request body must be a JSON object"
            return await _send_json(writer, 400, _error_body(openai_host, 5006, message))
        return await self._reply(route, body, self._next_reply(body), reader, writer)

    async def _reply(
        self,
        route: _Route,
        body: _Json,
        reply: Reply,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        if reply.latency:
            await asyncio.sleep(reply.latency)
        fault = reply.fault
        extra: dict[str, str] = {}
        if fault is not None and fault.retry_after is not None:
            extra["Retry-After"] = f"{fault.retry_after:g}"
        if fault is not None and fault.hostile:
            await self._hostile(reader, writer, fault)
            return False
        if fault is not None and fault.is_error:
            status, code, message = _fault_error(fault, body)
            error = _error_body(route.dialect == "openai", code, message)
            return await _send_json(writer, status, error, extra, fault=fault)
        model = route.model or str(body.get("model") or DEFAULT_MODEL)
        if body.get("stream") is True:
            events = _stream_events(reply, route.dialect, body, model)
            await self._stream(reader, writer, events, reply, extra)
            return False
        if fault is not None and fault.reset_after is not None:
            writer.transport.abort()
            return False
        if fault is not None and fault.stall_after is not None:
            async with _client_watch(reader) as gone:
                await self._hold_open(gone)
            return False
        response = _response_body(reply, route.dialect, body, model)
        return await _send_json(writer, 200, response, extra, fault=fault)

    async def _hostile(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fault: Fault
    ) -> None:
        """Hand-made bytes or events, as a hostile server would send them; then close."""
        headers = {**fault.headers, "Connection": "close"}
        if fault.content_encoding is not None:
            headers["Content-Encoding"] = fault.content_encoding
        async with _client_watch(reader) as gone:
            try:
                if fault.raw_body is not None:
                    headers = {"Content-Type": fault.content_type, **headers}
                    headers["Content-Length"] = str(len(fault.raw_body))
                    await _send_bytes(writer, fault.status or 200, headers, fault.raw_body, fault)
                    return
                headers = {"Content-Type": "text/event-stream", **headers}
                await _send_bytes(writer, 200, headers, b"", fault)
                if fault.endless:
                    await _write_endless(writer, gone)
                    return
                for payload in fault.events or []:
                    await _send_bytes(writer, None, {}, f"data: {payload}\n\n".encode(), fault)
                await _send_bytes(writer, None, {}, b"data: [DONE]\n\n", fault)
            except ConnectionError:
                gone.set()
            if gone.is_set():
                self._note_disconnect()

    async def _stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        events: list[_Json],
        reply: Reply,
        extra: dict[str, str],
    ) -> None:
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            "Connection": "close",
            **extra,
        }
        try:
            writer.write(_head(200, headers))
            await writer.drain()
            async with _client_watch(reader) as gone:
                if await self._write_frames(writer, gone, events, reply):
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
        except ConnectionError:
            self._note_disconnect()

    async def _write_frames(
        self,
        writer: asyncio.StreamWriter,
        gone: asyncio.Event,
        events: list[_Json],
        reply: Reply,
    ) -> bool:
        """Write the SSE events; returns whether the stream should end cleanly."""
        fault = reply.fault
        limit = None
        if fault is not None:
            limit = fault.reset_after if fault.reset_after is not None else fault.stall_after
        delay = 1 / reply.tokens_per_second if reply.tokens_per_second else 0.0
        sent = 0
        times = self.event_times = []
        for data, counted in _sse_frames(events, fault):
            if counted and limit is not None and sent >= limit:
                break
            if counted and sent and delay:
                await _wait(gone, delay)
            if gone.is_set():
                self._note_disconnect()
                return False
            for part in _writes(data, fault):
                writer.write(_chunk(part))
                await writer.drain()
            if counted:
                times.append(time.monotonic())
            sent += counted
        if fault is not None and fault.reset_after is not None:
            writer.transport.abort()
            return False
        if fault is not None and fault.stall_after is not None:
            await self._hold_open(gone)
            return False
        return True

    async def _hold_open(self, gone: asyncio.Event) -> None:
        """Stall: send nothing more until the client gives up (or the server stops)."""
        await gone.wait()
        self._note_disconnect()


async def _send_json(
    writer: asyncio.StreamWriter,
    status: int,
    body: _Json,
    extra: dict[str, str] | None = None,
    *,
    close: bool = False,
    fault: Fault | None = None,
) -> bool:
    """Send a JSON response with Content-Length; returns True so keep-alive can continue."""
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
    if close:
        headers["Connection"] = "close"
    await _send_bytes(writer, status, {**headers, **(extra or {})}, data, fault)
    return not close


async def _send_bytes(
    writer: asyncio.StreamWriter,
    status: int | None,
    headers: dict[str, str],
    body: bytes,
    fault: Fault | None,
) -> None:
    """Write a response head (unless `status` is None) and body, dripped if the fault says so."""
    head = _head(status, headers) if status is not None else b""
    drip = fault.drip if fault is not None else None
    if not drip:
        writer.write(head + body)
        await writer.drain()
        return
    if not fault or not fault.drip_head:
        writer.write(head)
        head = b""
    data = head + body
    for index in range(len(data)):
        writer.write(data[index : index + 1])
        await writer.drain()
        await asyncio.sleep(drip)


async def _write_endless(writer: asyncio.StreamWriter, gone: asyncio.Event) -> None:
    """Reasoning tokens in the native shape, as fast as the client reads, until it hangs up."""
    frames = b"".join(b'data: {"response":" thinking%d"}\n\n' % i for i in range(256))
    while not gone.is_set():
        writer.write(frames)
        await writer.drain()
