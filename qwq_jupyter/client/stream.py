"""Reading a call synchronously: the sources of events, `ResponseStream`, and `QwQClient`.

`AsyncQwQClient` (client.py) is the async core; this is the synchronous face a notebook and a
script use, over the private loop thread. A stream reads from an `EventSource` (source.py):
the HTTP client, a cassette, the offline demo, or a steered call wrapping one of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx

from ..core.credentials import Credentials, known_secrets
from ..core.errors import (
    QwQError,
)
from ..core.events import (
    Event,
    Finish,
    Response,
    ToolCall,
    ToolReply,
    ToolResult,
    ToolsRequested,
    UsageEvent,
)
from ..core.public import publish
from ..core.settings import QwQSettings
from ..wire.dialects import Message
from ..wire.inflate import PIECE as _PIECE  # noqa: F401 (tests/test_bounds.py reads it here)
from ..wire.request import HTTPRequest
from .client import _END, AsyncQwQClient, _as_sent, response_builder
from .loop import LoopThread
from .source import EventSource
from .steering import SteeredSource
from .tool_loop import ToolLoop, with_tools
from .tool_runner import ToolRunner, runs_tools

__all__ = ["EventSource", "QwQClient", "ResponseStream"]


class ResponseStream:
    """A running call, read synchronously; `cancel()` works from any thread.

    Iterate it for events; `events(tick=0.1)` also yields None during pauses so a view can
    flush text on time. `response` is the (partial) response at any moment.
    """

    def __init__(
        self,
        client: EventSource,
        request: HTTPRequest,
        settings: QwQSettings,
        loop: LoopThread | None = None,
        tools: ToolRunner | None = None,
    ) -> None:
        self._client = client
        self._tools = tools
        #: Only a tool loop asks for tools: other streams skip looking (a cost per event).
        self._asks_for_tools = isinstance(client, ToolLoop)
        self._request = request
        self._settings = settings
        self._loop = loop or LoopThread.get()
        self._builder = response_builder(_as_sent(settings, request))
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.last_error: QwQError | None = None
        self._pump_done = threading.Event()  # set once the task ended: the connection is closed
        self._future = self._loop.submit(self._pump())

    @property
    def response(self) -> Response:
        return self._builder.snapshot()

    @property
    def finished(self) -> bool:
        return self._builder.finished

    def __iter__(self) -> Iterator[Event]:
        for event in self.events():
            if event is not None:
                yield event

    def events(
        self, tick: float | None = None, *, cancel_on_exit: bool = True
    ) -> Iterator[Event | None]:
        """The events as they come; with `tick`, None during pauses longer than `tick` s.

        A consumer that stops early (KeyboardInterrupt, `break`) cancels the call, unless
        `cancel_on_exit=False`: then it decides (■ once forces the answer, twice stops).
        """
        try:
            while not self._builder.finished:
                batch = self._take(tick)
                if batch is None:
                    yield None
                    continue
                yield from batch
                for asked, reply in self._asked(batch):
                    yield from self._serve(asked, reply)
        finally:
            if cancel_on_exit and not self._builder.finished:
                self.cancel()

    def poll(self) -> list[Event]:
        """The events that arrived since the last call, without waiting (for multiplexing)."""
        events: list[Event] = []
        while not self._builder.finished:
            batch = self._take(0)
            if batch is None:
                break
            events += batch
            for asked, reply in self._asked(batch):
                events += self._serve(asked, reply)
        return events

    def _asked(
        self, batch: list[Event]
    ) -> list[tuple[ToolsRequested, concurrent.futures.Future[ToolReply]]]:
        """The rounds of calls in `batch` this reader must run (none unless tools run)."""
        if not self._asks_for_tools:
            return []
        return [
            (event, event.reply)
            for event in batch
            if isinstance(event, ToolsRequested) and event.reply is not None
        ]

    def _serve(
        self, event: ToolsRequested, reply: concurrent.futures.Future[ToolReply]
    ) -> Iterator[ToolResult]:
        """Run the calls the model asked for, here in the reading thread, one by one.

        Each finished call is yielded as it finishes. On ■ the reply says stopped (the call
        goes no further) and the KeyboardInterrupt goes on to the reader, which stops it.
        """
        finished: list[ToolCall] = []
        try:
            calls = self._tools.each(event.calls) if self._tools else _unrunnable(event.calls)
            for call in calls:
                finished.append(call)
                result = ToolResult(call)
                self._builder.add(result)
                yield result
        except Exception as err:  # a bug of ours: the call ends with it, it never waits
            _answer(reply, error=err)
            raise
        except BaseException:  # ■, or the reader stopped reading: the call goes no further
            _answer(reply, ToolReply(tuple(finished), stopped=True))
            raise
        _answer(reply, ToolReply(tuple(finished)))

    def _take(self, timeout: float | None) -> list[Event] | None:
        """The next batch of events, added to the response; None if none came in time."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            return [self._interrupted()]
        if isinstance(item, BaseException):
            raise item
        events: list[Event] = item
        for event in events:
            if isinstance(event, Finish):
                self.last_error = event.error
            self._builder.add(event)
        return events

    def _steered(self) -> SteeredSource | None:
        """The steered source of the call (of its current round, when tools run)."""
        source = self._client
        if isinstance(source, ToolLoop):
            return source.steered
        return source if isinstance(source, SteeredSource) else None

    @property
    def thinking(self) -> bool:
        """Whether QwQ is still reasoning and its answer can be forced (`answer_now`)."""
        source = self._steered()
        return source is not None and source.thinking and not self.finished

    def answer_now(self) -> bool:
        """Cut the thinking here and let QwQ answer from it (budget forcing, on demand).

        Works from any thread. False when there is nothing to cut: the answer has begun, the
        call ended, or the call is not steered (`QwQClient.send` without steering).
        """
        source = self._steered()
        return source is not None and not self.finished and source.answer_now()

    def cancel(self, timeout: float = 2.0, *, wait: bool = True) -> Response:
        """Stop the call: the task is cancelled, which closes the HTTP connection.

        With `wait=False` (from another thread, e.g. a Stop button) it only asks; the thread
        reading the events then sees the stream end as interrupted.
        """
        self._future.cancel()
        if not wait:
            return self._builder.response
        self._pump_done.wait(timeout)
        self._interrupted()
        return self._builder.response

    def wait(self) -> Response:
        """Consume the rest of the stream and return the response."""
        for _ in self.events():
            pass
        return self._builder.response

    def _interrupted(self) -> Finish:
        event = Finish("interrupted")
        source = self._client
        if isinstance(source, (SteeredSource, ToolLoop)) and not self._builder.finished:
            usage = source.usage_so_far()  # the calls steering made, the last estimated
            if usage is not None:
                self._builder.add(UsageEvent(usage))
        self._builder.add(event)
        return event

    async def _pump(self) -> None:
        # Events cross to the reading thread in batches: all those decoded from one network
        # read go together, handed over when the task next waits. A queue operation per
        # token would cost more CPU than decoding it.
        batch: list[Event] = []
        loop = asyncio.get_running_loop()

        def hand_over() -> None:
            if batch:
                self._queue.put(batch.copy())
                batch.clear()

        try:
            async for events in self._client.event_batches(self._request, self._settings):
                if not batch:
                    loop.call_soon(hand_over)
                batch.extend(events)
        except Exception as exc:  # a bug of ours: surface it in the caller's thread
            hand_over()
            self._queue.put(exc)
        finally:
            hand_over()
            self._queue.put(_END)
            self._pump_done.set()


def _answer(
    reply: concurrent.futures.Future[ToolReply],
    answer: ToolReply | None = None,
    *,
    error: Exception | None = None,
) -> None:
    """Give the tool loop its answer, unless the call was cancelled meanwhile (Stop)."""
    if reply.done():
        return
    try:
        if answer is not None:
            reply.set_result(answer)
        else:
            reply.set_exception(error)
    except concurrent.futures.InvalidStateError:
        pass  # cancelled between the check and the answer


def _unrunnable(calls: tuple[ToolCall, ...]) -> Iterator[ToolCall]:
    """Calls of a stream given no tools to run them with (a source that asks regardless)."""
    for call in calls:
        yield replace(call, status="not run", error=NO_RUNNER)


#: The error of a call asked of a stream that was given no tools.
NO_RUNNER = "not run: this stream was given no tools to run"


class QwQClient:
    """The synchronous client, for scripts, terminal IPython and notebook cells.

    In [1]: client = QwQClient()
    In [2]: client.complete([{"role": "user", "content": "2+2?"}]).answer
    """

    def __init__(
        self,
        settings: QwQSettings | None = None,
        credentials: Credentials | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._async = AsyncQwQClient(settings, credentials, transport=transport)
        self._loop = LoopThread.get()

    def __repr__(self) -> str:
        return f"<QwQClient backend={self.settings.backend} model={self.settings.model}>"

    @property
    def settings(self) -> QwQSettings:
        return self._async.settings

    @property
    def async_client(self) -> AsyncQwQClient:
        """The async core this facade runs on its loop thread."""
        return self._async

    @property
    def credentials(self) -> Credentials:
        return self._async.credentials

    def prepare(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        settings: QwQSettings | None = None,
        credentials_needed: bool = True,
    ) -> HTTPRequest:
        return self._async.prepare(
            messages, prompt=prompt, settings=settings, credentials_needed=credentials_needed
        )

    def stream(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        settings: QwQSettings | None = None,
        **overrides: Any,
    ) -> ResponseStream:
        """Start a call and return its stream of events."""
        settings = settings or self.settings
        if overrides:
            settings = settings.override(**overrides)
        request = self.prepare(messages, prompt=prompt, settings=settings)
        client = self._async
        runner = None
        if runs_tools(settings):  # run as the stream is read
            secrets = known_secrets(client.credentials, settings=settings)
            runner = ToolRunner.for_settings(settings, secrets=secrets)
        steered = client.steer(client, request, settings)
        source = with_tools(client, steered, messages, settings, runner, base=client)
        return self.send(request, settings, source=source, tools=runner)

    def send(
        self,
        request: HTTPRequest,
        settings: QwQSettings | None = None,
        *,
        source: EventSource | None = None,
        tools: ToolRunner | None = None,
    ) -> ResponseStream:
        """Send a prepared request and return its stream of events.

        `source` stands in for the HTTP client: a cassette recording or replaying calls, or
        the offline demo. `tools` runs the calls a `ToolLoop` source asks for, as it is read.
        """
        settings = settings or self.settings
        return ResponseStream(source or self._async, request, settings, self._loop, tools)

    def complete(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        **overrides: Any,
    ) -> Response:
        """The whole response. Raises the error if nothing arrived; Ctrl-C stops the call."""
        # The whole call runs on the loop thread: no per-token hop between threads.
        return self._loop.run(self._async.complete(messages, prompt=prompt, **overrides))

    def close(self) -> None:
        self._loop.run(self._async.aclose())


publish(globals())
