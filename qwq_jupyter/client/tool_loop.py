"""A call that runs tools: the model asks, the tools run, the results go back, it goes on.

`ToolLoop` wraps the source of one request the way `SteeredSource` does, and offers the same
interface, so the views, the response and the session see one stream of events. When a reply
ends asking for calls (`Finish("tool_calls")`), the finish is held back: the loop announces
the calls (`ToolsRequested`), gets them run, adds the model's calls and their results to the
conversation and sends the next request, up to `max_tool_rounds` rounds. Its events carry
usage summed over the rounds, and the tool calls with ids and round numbers.

Where the tools run is the reader's choice. `ResponseStream` runs them in its reading thread
(a cell's main thread: ■ stops a slow tool, a confirmation can ask) and answers through the
event's `reply`; a batch or the async client, with no such reader, pass `run_here` and the
loop runs them in a worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, Protocol

from ..core.events import (
    AnswerDelta,
    Event,
    Finish,
    ToolCall,
    ToolCallEvent,
    ToolReply,
    ToolResult,
    ToolsRequested,
    Usage,
    UsageEvent,
)
from ..core.public import publish
from ..core.settings import QwQSettings
from ..core.template import calls_in_text, without_calls
from ..wire.dialects import Message
from ..wire.request import HTTPRequest
from ..wire.tool_messages import round_messages
from .source import EventSource
from .steering import SteeredSource
from .tool_runner import ToolRunner


class Preparer(Protocol):
    """What a tool loop needs of the client: each round's request, steered like the first."""

    def prepare(
        self,
        messages: list[Message] | None = None,
        *,
        prompt: str | None = None,
        settings: QwQSettings | None = None,
        credentials_needed: bool = True,
    ) -> HTTPRequest: ...

    def steer(
        self,
        source: EventSource,
        request: HTTPRequest,
        settings: QwQSettings,
        steering: Any = None,
        *,
        credentials_needed: bool = True,
    ) -> EventSource: ...


__all__ = ["ToolLoop", "with_tools"]

#: Why calls of the last round did not run.
OUT_OF_ROUNDS = "not run: the model kept calling tools after {rounds} rounds (max_tool_rounds)"


class ToolLoop:
    """An `EventSource` for a call whose tools run; `current` is the round's own source."""

    def __init__(
        self,
        first: EventSource,
        messages: list[Message],
        *,
        max_rounds: int,
        prepare: Callable[[list[Message]], HTTPRequest],
        source_for: Callable[[HTTPRequest], EventSource],
        run_here: Callable[[tuple[ToolCall, ...]], list[ToolCall]] | None = None,
    ) -> None:
        self.current = first
        self.messages = list(messages)
        self.max_rounds = max_rounds
        self._prepare = prepare
        self._source_for = source_for
        self._run_here = run_here
        self._before: Usage | None = None  # the finished rounds' usage, summed
        self._usage: Usage | None = None  # the current round's latest

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        round_ = 0
        while True:
            calls: list[ToolCall] = []
            said: list[str] = []  # the round's answer text
            held: Finish | None = None
            written = False  # the calls were written in the answer, not sent as tool_calls
            async for batch in self.current.event_batches(request, settings):
                shown: list[Event] = []
                for event in batch:
                    if isinstance(event, ToolCallEvent):
                        named = event.call.id or f"call_{round_}_{len(calls)}"
                        call = replace(event.call, id=named, round=round_)
                        calls.append(call)
                        shown.append(ToolCallEvent(call))
                    elif isinstance(event, UsageEvent):
                        self._usage = event.usage
                        shown.append(UsageEvent(self._summed(event.usage)))
                    elif isinstance(event, Finish) and event.reason == "tool_calls" and calls:
                        held = event
                    elif isinstance(event, Finish) and event.reason == "stop" and not calls:
                        in_text = calls_in_text("".join(said))
                        if not in_text:
                            shown.append(event)
                            continue
                        calls = [
                            replace(asked, id=f"call_{round_}_{n}", round=round_)
                            for n, asked in enumerate(in_text)
                        ]
                        shown += [ToolCallEvent(asked) for asked in calls]
                        held, written = replace(event, reason="tool_calls"), True
                    else:
                        if isinstance(event, AnswerDelta):
                            said.append(event.text)
                        shown.append(event)
                if shown:
                    yield shown
            if held is None:
                return
            if round_ >= self.max_rounds:
                text = OUT_OF_ROUNDS.format(rounds=self.max_rounds)
                yield [ToolResult(replace(c, status="not run", error=text)) for c in calls]
                yield [held]
                return
            asking = tuple(calls)
            if self._run_here is None:  # the reader runs them and answers through `reply`
                future: concurrent.futures.Future[ToolReply] = concurrent.futures.Future()
                yield [ToolsRequested(asking, round_, future, written)]
                reply = await asyncio.wrap_future(future)
            else:
                yield [ToolsRequested(asking, round_, written=written)]
                finished = await asyncio.to_thread(self._run_here, asking)
                yield [ToolResult(call) for call in finished]
                reply = ToolReply(tuple(finished))
            if reply.stopped:
                return  # ■ stopped a tool: the reader cancels the call
            said_text = "".join(said)
            self.messages += round_messages(list(reply.calls), without_calls(said_text))
            self._before, self._usage = self._summed(self._usage), None
            request = self._prepare(self.messages)
            self.current = self._source_for(request)
            round_ += 1

    def _summed(self, usage: Usage | None) -> Usage:
        if usage is None:
            return self._before or Usage()
        return usage if self._before is None else self._before + usage

    @property
    def steered(self) -> SteeredSource | None:
        """The round's steered source, where Answer now and the thinking state live."""
        return self.current if isinstance(self.current, SteeredSource) else None

    def usage_so_far(self) -> Usage | None:
        """What the call has used: the finished rounds and the one in flight (estimated)."""
        steered = self.steered
        now = steered.usage_so_far() if steered is not None else self._usage
        return self._summed(now) if now is not None or self._before is not None else None


def with_tools(
    client: Preparer,
    source: EventSource,
    messages: list[Message] | None,
    settings: QwQSettings,
    runner: ToolRunner | None,
    *,
    base: EventSource,
    in_thread: bool = False,
    credentials_needed: bool = True,
) -> EventSource:
    """`source`, its calls' tools run by `runner` (None, or a raw prompt: `source` as is).

    Each later round is prepared by `client` and read from `base` (the HTTP client, or a
    cassette around it), steered as the first was. `in_thread`: the loop runs the tools in
    a worker thread, for readers that do not run them (a batch, the async client).
    """
    if runner is None or messages is None:
        return source

    def prepare(more: list[Message]) -> HTTPRequest:
        return client.prepare(more, settings=settings, credentials_needed=credentials_needed)

    def source_for(request: HTTPRequest) -> EventSource:
        return client.steer(base, request, settings, credentials_needed=credentials_needed)

    return ToolLoop(
        source,
        messages,
        max_rounds=settings.max_tool_rounds,
        prepare=prepare,
        source_for=source_for,
        run_here=runner.run if in_thread else None,
    )


publish(globals())
