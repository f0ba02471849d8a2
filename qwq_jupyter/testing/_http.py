"""The fake QwQ server's HTTP/1.1, written by hand on asyncio streams.

Fault injection (resets, stalls, bytes split mid-character, dripped or endless bodies) needs
control over every byte sent, which an HTTP library would take away. This module reads and
routes requests and writes answers byte by byte as a `Fault` asks; which answer to give, and
what to record about it, is the server's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ._errors import status_phrase
from ._script import Fault, Reply, set_finish_reason

_Json = dict[str, Any]
_YIELD_EVERY = 64  # unpaced streams let the event loop run this often (in events)


# --- Requests and routing ----------------------------------------------------------------------


class HttpError(Exception):
    """A request too broken to route; answered with this status and the connection closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class HttpRequest:
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


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """Read one request, or None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise HttpError(431) from exc
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise HttpError(400)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if "chunked" in headers.get("transfer-encoding", ""):
        raise HttpError(411)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise HttpError(400) from exc
    body = await reader.readexactly(length) if length > 0 else b""
    return HttpRequest(parts[0], parts[1], parts[2], headers, body)


@dataclass(frozen=True)
class Route:
    """A matched endpoint; `account` is None on the plain OpenAI `/v1` base.

    `dialect` is "native" (Workers AI), "openai" (chat completions) or "completions" (OpenAI's
    raw-text `/completions`, which only the plain base serves: Cloudflare's `/ai/v1` and AI
    Gateway's OpenAI-compatible paths offer chat completions alone).
    """

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
    (re.compile(r"/v1/completions"), "completions"),
]


def match_route(method: str, path: str) -> Route | None:
    if method != "POST":
        return None
    for pattern, dialect in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            groups = match.groupdict()
            model = groups.get("model")
            return Route(dialect, groups.get("account"), unquote(model) if model else None)
    return None


# --- Answers: a JSON body, a stream of events, hand-made bytes, or silence --------------------


async def send_json(
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


async def send_stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    events: Iterable[_Json],
    reply: Reply,
    extra: dict[str, str],
    event_times: list[float],
) -> bool:
    """Stream the events as SSE over chunked encoding, paced and broken as `reply` says.

    The events may be endless (a reply stuck in a loop): they are then written until the client
    hangs up, yielding to the event loop now and then so its hang-up is noticed.

    Appends to `event_times` when each event is written. Returns whether the client hung up
    before the end (a stalled stream always ends that way), so the server can count it.
    """
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
            ended_cleanly, hung_up = await _write_frames(writer, gone, events, reply, event_times)
            if ended_cleanly:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            return hung_up
    except ConnectionError:
        return True


async def send_hostile(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fault: Fault
) -> bool:
    """Hand-made bytes or events, as a hostile server would send them; then close.

    Returns whether the client hung up before the end, as far as counted: a whole raw body or an
    endless stream counts a hang-up only when a write fails, not when the client's EOF is seen.
    """
    headers = {**fault.headers, "Connection": "close"}
    if fault.content_encoding is not None:
        headers["Content-Encoding"] = fault.content_encoding
    async with _client_watch(reader) as gone:
        try:
            if fault.raw_body is not None:
                headers = {"Content-Type": fault.content_type, **headers}
                headers["Content-Length"] = str(len(fault.raw_body))
                await _send_bytes(writer, fault.status or 200, headers, fault.raw_body, fault)
                return False
            headers = {"Content-Type": "text/event-stream", **headers}
            await _send_bytes(writer, 200, headers, b"", fault)
            if fault.endless:
                await _write_endless(writer, gone)
                return False
            for payload in fault.events or []:
                await _send_bytes(writer, None, {}, f"data: {payload}\n\n".encode(), fault)
            await _send_bytes(writer, None, {}, b"data: [DONE]\n\n", fault)
        except ConnectionError:
            gone.set()
        return gone.is_set()


async def wait_for_hangup(reader: asyncio.StreamReader) -> None:
    """Stall: send nothing at all until the client gives up (or the server stops)."""
    async with _client_watch(reader) as gone:
        await gone.wait()


# --- Bytes: SSE framing, HTTP chunking and byte-level faults -----------------------------------


async def _write_frames(
    writer: asyncio.StreamWriter,
    gone: asyncio.Event,
    events: Iterable[_Json],
    reply: Reply,
    event_times: list[float],
) -> tuple[bool, bool]:
    """Write the SSE events; returns whether the stream should end cleanly, and whether the
    client hung up."""
    fault = reply.fault
    limit = None
    if fault is not None:
        limit = fault.reset_after if fault.reset_after is not None else fault.stall_after
    delay = 1 / reply.tokens_per_second if reply.tokens_per_second else 0.0
    sent = 0
    for data, counted in _sse_frames(events, fault):
        if counted and limit is not None and sent >= limit:
            break
        if counted and sent and delay:
            await _wait(gone, delay)
        elif counted and sent % _YIELD_EVERY == _YIELD_EVERY - 1:
            await asyncio.sleep(0)  # drain() only yields once the socket's buffer is full
        if gone.is_set():
            return False, True
        for part in _writes(data, fault):
            writer.write(_chunk(part))
            await writer.drain()
        if counted:
            event_times.append(time.monotonic())
        sent += counted
    if fault is not None and fault.reset_after is not None:
        writer.transport.abort()
        return False, False
    if fault is not None and fault.stall_after is not None:
        await gone.wait()
        return False, True
    return True, False


def _sse_frames(events: Iterable[_Json], fault: Fault | None) -> Iterator[tuple[bytes, bool]]:
    """Frame payloads as SSE events; the flag marks events counted by reset/stall_after."""
    fault = fault or Fault()
    eol = fault.line_ending

    def frame(line: str) -> bytes:
        return (line + eol + eol).encode()

    for index, event in enumerate(events):
        if fault.error_after is not None and index == fault.error_after:
            error = {"error": {"message": "internal error while generating", "code": 500}}
            yield frame("data: " + json.dumps(error)), True
            break
        if fault.close_without_done or fault.no_finish_reason:
            set_finish_reason(event, None)
        yield frame("data: " + json.dumps(event, ensure_ascii=False)), True
        if fault.malformed and index % 2 == 0:
            yield frame("data: {not json"), False
        if fault.malformed and index == 1:
            yield frame(": keep-alive"), False
    if not fault.close_without_done:
        yield frame("[DONE]" if fault.bare_done else "data: [DONE]"), True


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
    lines = [f"HTTP/1.1 {status} {status_phrase(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_bytes(
    writer: asyncio.StreamWriter,
    status: int | None,
    headers: dict[str, str],
    body: bytes,
    fault: Fault | None,
) -> None:
    """Write a response head (unless `status` is None) and body, dripped if the fault says so."""
    head = _head(status, headers) if status is not None else b""
    if fault is None or not fault.drip:
        writer.write(head + body)
        await writer.drain()
        return
    if not fault.drip_head:
        writer.write(head)
        head = b""
    data = head + body
    for index in range(len(data)):
        writer.write(data[index : index + 1])
        await writer.drain()
        await asyncio.sleep(fault.drip)


async def _write_endless(writer: asyncio.StreamWriter, gone: asyncio.Event) -> None:
    """Reasoning tokens in the native shape, as fast as the client reads, until it hangs up."""
    frames = b"".join(b'data: {"response":" thinking%d"}\n\n' % i for i in range(256))
    while not gone.is_set():
        writer.write(frames)
        await writer.drain()


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
