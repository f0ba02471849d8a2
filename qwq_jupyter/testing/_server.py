"""A fake QwQ-32B server that speaks the Workers AI and OpenAI wire formats over real HTTP.

The server runs its own event loop in a daemon thread, so sync tests, notebooks and async code
can all use it the same way. This module holds its public face: the lifecycle, the addresses,
the script of replies and what it observed (requests, disconnects, concurrency). What a reply
looks like is decided in `_script`; how its bytes travel, faults included, in `_http`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ._completions import completion_body, completion_events
from ._errors import error_body, fault_error, status_phrase, unknown_url_body
from ._http import (
    HttpError,
    HttpRequest,
    Route,
    match_route,
    read_request,
    send_hostile,
    send_json,
    send_stream,
    wait_for_hangup,
)
from ._script import (
    DEFAULT_ANSWER,
    DEFAULT_MODEL,
    DEFAULT_REASONING,
    LINE_ENDINGS,
    SHAPES,
    USAGE_STYLES,
    Fault,
    Reply,
    gzip_bomb,
    never_ends,
    response_body,
    stream_events,
)

# The names the server module always offered, whichever module now holds them.
__all__ = [
    "DEFAULT_ANSWER",
    "DEFAULT_MODEL",
    "DEFAULT_REASONING",
    "LINE_ENDINGS",
    "SHAPES",
    "USAGE_STYLES",
    "Fault",
    "QwQTestServer",
    "RecordedRequest",
    "Reply",
    "gzip_bomb",
]

_Json = dict[str, Any]


@dataclass
class RecordedRequest:
    """A request as the server saw it, with credentials redacted so it is safe to print."""

    method: str
    path: str
    headers: dict[str, str]
    body: _Json | None


def _recorded(request: HttpRequest) -> RecordedRequest:
    """The request as `requests` keeps it: tests print these, so no credential may show."""
    headers = {
        name: "<redacted>" if "authorization" in name else value
        for name, value in request.headers.items()
    }
    return RecordedRequest(request.method, request.target, headers, request.json())


class QwQTestServer:
    """A scripted QwQ server on 127.0.0.1 with an ephemeral port, for tests and offline demos.

    Replies are served in order (`push` appends more); once the script is used up, `responder`
    (a function from the request body to a Reply) or else `default` answers every request.
    Every request is recorded in `requests`, with its path and JSON body (a raw continuation's
    exact text is `requests[-1].body["prompt"]`).

    Besides chat completions, the plain OpenAI base serves raw-text `/v1/completions` and the
    Workers AI native routes take `{"prompt": ..., "raw": true}`; both continue QwQ's chat
    template from where the prompt stops (see `Reply`). `completions=False` (or setting the
    `completions` attribute) makes `/v1/completions` a 404 with an OpenAI-style error body, as
    a server that cannot continue raw text answers.
    """

    def __init__(
        self,
        *replies: Reply,
        token: str = "test-token",
        account_id: str = "test-account",
        default: Reply | None = None,
        port: int = 0,
        responder: Callable[[_Json], Reply] | None = None,
        completions: bool = True,
    ) -> None:
        self._token = token
        self._account_id = account_id
        self._default = default or Reply()
        self._responder = responder
        #: Whether the plain OpenAI base serves `/v1/completions` (raw text continuations).
        self.completions = completions
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
            request = await read_request(reader)
        except HttpError as exc:
            await send_json(writer, exc.status, {"error": status_phrase(exc.status)}, close=True)
            return False
        if request is None:
            return False
        self.requests.append(_recorded(request))
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
        self, request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        route = match_route(request.method, request.path)
        if route is None:
            return await send_json(writer, 404, error_body(False, 7000, "No route for that URI"))
        if route.dialect == "completions" and not self.completions:
            return await send_json(writer, 404, unknown_url_body(request.method, request.path))
        openai_host = route.account is None
        if not self._authorized(request.headers):
            error = error_body(openai_host, 10000, "Authentication error")
            return await send_json(writer, 401, error)
        if route.account is not None and route.account != self._account_id:
            message = (
                f"Could not route to {request.path}, perhaps your object identifier is invalid?"
            )
            return await send_json(writer, 404, error_body(False, 7003, message))
        body = request.json()
        if body is None:
            message = "Bad input: the request body must be a JSON object"
            return await send_json(writer, 400, error_body(openai_host, 5006, message))
        return await self._reply(route, body, self._next_reply(body), reader, writer)

    async def _reply(
        self,
        route: Route,
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
            if await send_hostile(reader, writer, fault):
                self._note_disconnect()
            return False
        if fault is not None and fault.is_error:
            status, code, message = fault_error(fault, body)
            error = error_body(route.dialect != "native", code, message)
            return await send_json(writer, status, error, extra, fault=fault)
        model = route.model or str(body.get("model") or DEFAULT_MODEL)
        text_only = route.dialect == "completions"
        if body.get("stream") is True:
            if text_only:
                events = completion_events(reply, body, model)
            else:
                events = stream_events(reply, route.dialect, body, model)
            self.event_times = []
            if await send_stream(reader, writer, events, reply, extra, self.event_times):
                self._note_disconnect()
            return False
        if fault is not None and fault.reset_after is not None:
            writer.transport.abort()
            return False
        stalled = fault is not None and fault.stall_after is not None
        if stalled or never_ends(reply, body, text_only=text_only):
            # A loop with no max_tokens would generate forever: the body never comes.
            await wait_for_hangup(reader)
            self._note_disconnect()
            return False
        if text_only:
            response = completion_body(reply, body, model)
        else:
            response = response_body(reply, route.dialect, body, model)
        return await send_json(writer, 200, response, extra, fault=fault)
