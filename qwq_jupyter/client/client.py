"""The client: one async core, and a synchronous facade over a private loop thread.

Whatever the server sends is untrusted (a `base_url` can be anyone's server), so every reply is
bounded: the overall deadline covers connecting, the headers and every body; bodies are
decompressed here in bounded pieces and capped; a stream stops once it holds far more than
`max_tokens` allows. Every failure leaves as one of the package's errors, one line long, with
no traceback or chained exception attached that could show the URL (account id) or the key.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import httpx

from ..core.builder import ResponseBuilder
from ..core.credentials import Credentials, known_secrets, redact
from ..core.errors import (
    ConfigurationError,
    DeadlineExceeded,
    NetworkError,
    QwQError,
    ReplyTooLargeError,
    StallError,
    UnreadableReplyError,
    server_text,
)
from ..core.events import Event, Finish, Response, Retrying
from ..core.public import publish
from ..core.settings import QwQSettings
from ..core.template import apply_chat_template
from ..wire.decode import EventDecoder
from ..wire.dialects import OFFLINE_DEMO, Dialect, Message, dialect_for
from ..wire.inflate import Inflater
from ..wire.reasoning import OpensIn
from ..wire.replies import ERROR_BODY_BYTES, api_error, parse_json_body, redirect_error
from ..wire.request import HTTPRequest, build_continuation, build_request, check_request
from ..wire.servers import ServerInfo
from ..wire.sse import SSEDecoder
from .bounded import Deadline, content_encoding, open_reply, read_body
from .demo import DemoSource
from .log_filter import mask_account_ids_in_http_logs
from .loop import LoopThread
from .probe import ServerDirectory
from .retry import RetryPolicy
from .source import EventSource
from .steering import SteeredSource, Steering
from .tool_loop import with_tools
from .tool_runner import ToolRunner, runs_tools

__all__ = ["AsyncQwQClient", "response_builder"]

_END = object()
T = TypeVar("T")

#: A non-streamed reply may be this large plus `BODY_BYTES_PER_TOKEN` per allowed token.
BODY_BASE_BYTES = 1024 * 1024
BODY_BYTES_PER_TOKEN = 256  # generous: JSON escapes a character in up to 12 bytes

mask_account_ids_in_http_logs()


class AsyncQwQClient:
    """Calls QwQ and yields events as they arrive.

    In [1]: client = AsyncQwQClient()
    In [2]: response = await client.complete([{"role": "user", "content": "2+2?"}])
    """

    def __init__(
        self,
        settings: QwQSettings | None = None,
        credentials: Credentials | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings if settings is not None else QwQSettings()
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._servers = ServerDirectory()  # each base_url's answer to GET /models

    def __repr__(self) -> str:
        return f"<AsyncQwQClient backend={self.settings.backend} model={self.settings.model}>"

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = Credentials.from_env()
        return self._credentials

    def prepare(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        settings: QwQSettings | None = None,
        credentials_needed: bool = True,
    ) -> HTTPRequest:
        """Build (and so validate) the request without sending it.

        Everything that needs no server is checked first. If the dialect then needs the
        server's `GET /models` (its kind, or the model it serves) and this client has not
        asked yet, this waits for the answer on the loop thread; in async code use `aprepare`.
        `credentials_needed=False`: a request that is not sent (a replay, the demo) needs no key.
        """
        settings = settings or self.settings
        needed = credentials_needed
        dialect = check_request(
            settings, self.credentials, messages=messages, prompt=prompt, credentials_needed=needed
        )
        server = self._servers.known(settings)
        if server is None and dialect.asks_server(settings):
            server = _wait_for(self.server_info(settings, dialect))
        return build_request(
            settings,
            self.credentials,
            messages=messages,
            prompt=prompt,
            server=server,
            credentials_needed=needed,
        )

    def prepare_continuation(
        self,
        settings: QwQSettings,
        text: str,
        opens_in: OpensIn,
        max_tokens: int,
        *,
        credentials_needed: bool = True,
    ) -> HTTPRequest:
        """The raw request that continues QwQ's `text` (a cut or extended thinking).

        Called on the loop thread while a call streams, so it never waits: the server was
        asked about (if at all) when the first request of the call was prepared.
        """
        return build_continuation(
            settings,
            self.credentials,
            text,
            opens_in=opens_in,
            max_tokens=max_tokens,
            server=self._servers.known(settings),
            credentials_needed=credentials_needed,
        )

    def steer(
        self,
        source: EventSource,
        request: HTTPRequest,
        settings: QwQSettings,
        steering: Steering | None = None,
        *,
        credentials_needed: bool = True,
    ) -> EventSource:
        """`source` with its thinking steered (budgets, Answer now, the loop guard, caps).

        `steering` defaults to what `settings` ask for, the prompt read from `request`. A call
        that asks to cut or extend its thinking is refused here (ConfigurationError, one line)
        if its server cannot continue raw text; a call that is not streamed is not steered.
        """
        if not settings.stream:
            Steering.of(settings, "", 0)  # refuses budgets without streaming, in one line
            return source
        if steering is None:
            template = _template(request)
            steering = Steering.of(settings, template, len(template) // 3)
        if settings.think_budget is not None or settings.think_min:
            request.rules.continues_raw(settings, self.credentials)

        def continuation(text: str, opens_in: OpensIn, max_tokens: int) -> HTTPRequest:
            return self.prepare_continuation(
                settings, text, opens_in, max_tokens, credentials_needed=credentials_needed
            )

        return SteeredSource(source, steering, continuation)

    async def aprepare(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        settings: QwQSettings | None = None,
    ) -> HTTPRequest:
        """`prepare` for async code: the question to the server, if any, is awaited here."""
        settings = settings or self.settings
        dialect = check_request(settings, self.credentials, messages=messages, prompt=prompt)
        server = await self.server_info(settings, dialect)
        return build_request(
            settings, self.credentials, messages=messages, prompt=prompt, server=server
        )

    async def server_info(
        self, settings: QwQSettings | None = None, dialect: Dialect | None = None
    ) -> ServerInfo | None:
        """What `GET {base_url}/models` says, asked once per client and base_url; None if the
        dialect needs nothing from the server.

        Any failure means a generic server, silently: the question is a convenience, and the
        real request reports a server that is down. An answer, even an HTTP error, is kept; a
        connection that failed is not, so a server started after the first try is still found.
        """
        settings = settings or self.settings
        dialect = dialect or dialect_for(settings)
        if not dialect.asks_server(settings):
            return None
        return await self._servers.ask(self._client(), settings, dialect, self.credentials)

    def builder(self, settings: QwQSettings | None = None) -> ResponseBuilder:
        return response_builder(settings or self.settings)

    async def events(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[Event]:
        """Send `request`, retrying per the policy; always ends with one `Finish` event."""
        async for batch in self.event_batches(request, settings):
            for event in batch:
                yield event

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        """`events()` grouped by network read: one hop per read, not per token, is cheaper.

        The offline demo (`backend = 'demo'`) is answered in-process by `DemoSource`.
        """
        settings = settings or self.settings
        if request.rules is OFFLINE_DEMO:
            async for batch in DemoSource().event_batches(request, settings):
                yield batch
            return
        policy = RetryPolicy(
            max_retries=settings.max_retries,
            retry_after_cap=settings.retry_after_cap,
            random=self._jitter,
        )
        deadline = self._clock() + settings.deadline
        retries = 0
        while True:
            decoder = EventDecoder(_max_tokens(request.body), request.rules, request.opens_in)
            try:
                async for batch in self._attempt(request, settings, decoder, deadline):
                    yield batch
                return
            except QwQError as caught:
                error = self._scrubbed(caught)
            except Exception as exc:  # a reply nobody foresaw: still one line
                error = self._scrubbed(QwQError(f"unexpected failure: {_describe(exc)}"))
            if decoder.tokens:
                # Tokens already reached the caller: a retry would show a different
                # reply. Keep what arrived, marked incomplete.
                yield [*decoder.flush(), Finish("incomplete", error, decoder.malformed)]
                return
            delay = policy.delay(retries, error, deadline - self._clock())
            if delay is None:
                yield [Finish("error", error, decoder.malformed)]
                return
            retries += 1
            yield [Retrying(retries, delay, error)]
            await self._sleep(delay)

    async def stream(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Event]:
        """Events for one call; `overrides` change settings for this call only."""
        settings = self.settings.override(**overrides) if overrides else self.settings
        request = await self.aprepare(messages, prompt=prompt, settings=settings)
        source = self._with_tools(self.steer(self, request, settings), messages, settings)
        async for batch in source.event_batches(request, settings):
            for event in batch:
                yield event

    async def complete(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        **overrides: Any,
    ) -> Response:
        """The whole response of one call. Raises the error if nothing arrived."""
        settings = self.settings.override(**overrides) if overrides else self.settings
        request = await self.aprepare(messages, prompt=prompt, settings=settings)
        builder = self.builder(_as_sent(settings, request))
        add = builder.add
        source = self._with_tools(self.steer(self, request, settings), messages, settings)
        try:
            async for batch in source.event_batches(request, settings):
                for event in batch:
                    add(event)
            last = batch[-1]
            if isinstance(last, Finish) and last.reason == "error" and last.error:
                raise last.error
        except asyncio.CancelledError:
            builder.finish("interrupted")
            raise
        return builder.response

    def _with_tools(
        self, source: EventSource, messages: list[Message] | None, settings: QwQSettings
    ) -> EventSource:
        """`source`, running the functions among the tools in a worker thread as QwQ calls."""
        if not runs_tools(settings):
            return source
        secrets = known_secrets(self.credentials, settings=settings)
        runner = ToolRunner.for_settings(settings, secrets=secrets)
        return with_tools(self, source, messages, settings, runner, base=self, in_thread=True)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is not None and self._http_loop is not loop:
            # An httpx client belongs to the loop it was made on (a second asyncio.run() has
            # another); its connections cannot be reused from here.
            self._http = None
        if self._http is None:
            self._http_loop = loop
            self._http = httpx.AsyncClient(
                transport=self._transport,
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=32),
            )
        return self._http

    async def _attempt(
        self,
        request: HTTPRequest,
        settings: QwQSettings,
        decoder: EventDecoder,
        deadline: float,
    ) -> AsyncIterator[list[Event]]:
        # No line here reads `request.url` or `request.headers`: Verbose tracebacks show the
        # value of every expression on the failing line.
        time_left = deadline - self._clock()
        if time_left <= 0:
            raise DeadlineExceeded(f"no reply within the {settings.deadline:g} s deadline")
        streaming = bool(request.body.get("stream"))
        timeout = httpx.Timeout(
            connect=min(settings.connect_timeout, time_left),
            # Without streaming, no byte arrives until the whole reply is written: only the
            # deadline bounds the wait.
            read=min(settings.stall_timeout, time_left) if streaming else time_left,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        )
        guard = Deadline(time_left, settings.deadline)
        try:
            reply = await guard.wait(open_reply(self._client(), request, timeout))
            try:
                async for batch in self._read(reply, request, decoder, guard, deadline):
                    yield batch
            finally:
                await reply.aclose()
        except asyncio.CancelledError:
            if guard.consume_cancel():
                raise guard.error() from None
            raise
        except QwQError:
            raise
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ReadTimeout):
                raise StallError(
                    f"the server sent nothing for {settings.stall_timeout:g} s (stalled)"
                ) from None
            raise NetworkError(f"timed out connecting to {request.host}") from None
        except httpx.TransportError as exc:
            raise NetworkError(f"connection to {request.host} failed: {_describe(exc)}") from None
        except Exception as exc:  # httpx's other errors, odd replies
            raise UnreadableReplyError(
                f"unreadable reply from {request.host}: {_describe(exc)}"
            ) from None
        finally:
            guard.close()

    async def _read(
        self,
        reply: httpx.Response,
        request: HTTPRequest,
        decoder: EventDecoder,
        guard: Deadline,
        deadline: float,
    ) -> AsyncIterator[list[Event]]:
        """The events of one reply: an error, a whole body, or a stream."""
        status = reply.status_code
        if 300 <= status < 400:
            raise redirect_error(reply.status_code, reply.headers.get("location", ""))
        if not 200 <= status < 300:
            body, truncated = await guard.wait(
                read_body(reply, Inflater.lenient(content_encoding(reply)), ERROR_BODY_BYTES)
            )
            raise api_error(reply.status_code, reply.reason_phrase, reply.headers, body, truncated)
        inflater = Inflater(content_encoding(reply))
        if "text/event-stream" not in reply.headers.get("content-type", ""):
            limit = BODY_BASE_BYTES + BODY_BYTES_PER_TOKEN * decoder.token_ceiling
            body, truncated = await guard.wait(read_body(reply, inflater, limit))
            if truncated:
                raise ReplyTooLargeError(
                    f"the reply from {request.host} is over {limit:,} bytes; it was not read"
                )
            inflater.check_end()
            data = parse_json_body(body, reply.headers.get("content-type", ""))
            yield [*decoder.feed_whole(data), *decoder.end()]
            return
        sse = SSEDecoder()
        feed = sse.feed if inflater.identity else inflater.wrap(sse.feed)
        read = reply.aiter_raw().__anext__
        clock = self._clock
        while True:
            if guard.expired or clock() > deadline:
                raise guard.error()
            guard.waiting = True
            try:
                raw = await read()
            except StopAsyncIteration:
                break
            finally:
                guard.waiting = False
            batch: list[Event] = []
            try:
                for payload in feed(raw):
                    batch += decoder.feed(payload)
            except QwQError:  # an error event: what came before it in this read still counts
                if batch:
                    yield batch
                raise
            if batch:
                yield batch
            runaway = decoder.runaway()
            if runaway is not None:
                raise runaway  # what arrived stays: the caller marks the reply incomplete
        yield [event for payload in sse.close() for event in decoder.feed(payload)]
        yield decoder.end()

    def _scrubbed(self, error: QwQError) -> QwQError:
        """`error` redacted and bare: no traceback or chained exception holding a secret.

        Its frames (inside httpx, or ours holding the request) would show the URL and headers
        in a Verbose traceback, wherever the error is raised again.
        """
        error.args = (redact(str(error), self.credentials.secrets()),)
        error.__traceback__ = None
        error.__context__ = error.__cause__ = None
        error.__suppress_context__ = True
        return error


def _wait_for(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the loop thread and wait; refused on that very loop (it would hang)."""
    thread = LoopThread.get()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is thread.loop:
        coro.close()
        raise ConfigurationError(
            "prepare() cannot wait for the server's answer to GET /models on the client's own "
            "event loop; use `await client.aprepare(...)`"
        )
    return thread.run(coro)


def _template(request: HTTPRequest) -> str:
    """The prompt as QwQ reads it, from a prepared request: what a continuation extends."""
    prompt = request.body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    messages = request.body.get("messages")
    tools = request.body.get("tools")
    listed = tools if isinstance(tools, list) else None
    return apply_chat_template(messages if isinstance(messages, list) else [], listed)


def _as_sent(settings: QwQSettings, request: HTTPRequest) -> QwQSettings:
    """`settings` with the model the request names, if the dialect chose another one."""
    model = request.body.get("model")
    if isinstance(model, str) and model != settings.model:
        return settings.override(model=model)
    return settings


def _max_tokens(body: dict[str, Any]) -> Any:
    return body.get("max_tokens", body.get("max_completion_tokens"))


def _describe(exc: BaseException) -> str:
    text = server_text(str(exc).split("\n")[0], 120)  # may quote what the server sent
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def response_builder(settings: QwQSettings) -> ResponseBuilder:
    """What a call's events add up to, priced and labelled with the settings it was sent with."""
    return ResponseBuilder(
        settings.model_parameters() | {"backend": settings.backend, "model": settings.model},
        input_price=settings.input_price,
        output_price=settings.output_price,
    )


publish(globals())
