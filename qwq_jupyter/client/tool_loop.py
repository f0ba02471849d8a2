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

from ..core.errors import QwQError
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
from ..core.tools import error_line
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


#: Why a loop ends before sending results: `max_cost` caps all its requests together, and
#: what is left would not even pay for the next request's prompt.
SPENT = (
    "max_cost was spent after {rounds} round(s) of tools: what is left would not pay for "
    "sending their results back (raise --max-cost, or ask for less at a time)"
)
#: ... or the conversation with the results would not fit the context window.
TOO_LONG = (
    "after {rounds} round(s) of tools the conversation would take ≈{prompt:,} of the "
    "{window:,}-token window, leaving no room to answer: lower tool_result_chars, or ask for "
    "less at a time"
)
#: The fewest tokens of answer worth asking for after a round of tools.
MIN_ANSWER_ROOM = 256
#: Most calls run from one reply; the rest go back to the model as not run.
MAX_CALLS_PER_ROUND = 16
TOO_MANY = f"not run: more than {MAX_CALLS_PER_ROUND} calls in one reply; ask for fewer at a time"


class _Round:
    """One reply of the model, as the loop reads it: its calls, its answer text, its end."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.calls: list[ToolCall] = []
        self.held: Finish | None = None  # the reply's end, held back while its calls run
        self.written = False  # the calls were written in the answer, not sent as tool_calls
        self._said: list[str] = []  # the reply's answer text

    def read(self, batch: list[Event], usage_seen: Callable[[Usage], Usage]) -> list[Event]:
        """The events to pass on; calls get ids and their round, usage is summed."""
        shown: list[Event] = []
        for event in batch:
            if isinstance(event, ToolCallEvent):
                shown.append(ToolCallEvent(self._add(event.call)))
            elif isinstance(event, UsageEvent):
                shown.append(UsageEvent(usage_seen(event.usage)))
            elif isinstance(event, Finish) and event.reason in _CALLS_END and self.calls:
                self.held = event  # some servers end a reply of calls with "stop"
            elif isinstance(event, Finish) and event.reason == "stop":
                written = calls_in_text("".join(self._said))
                if not written:
                    shown.append(event)
                    continue
                shown += [ToolCallEvent(self._add(call)) for call in written]
                self.held, self.written = replace(event, reason="tool_calls"), True
            else:
                if isinstance(event, AnswerDelta):
                    self._said.append(event.text)
                shown.append(event)
        return shown

    def said(self) -> str:
        """What the model said around its calls (written calls taken out)."""
        return without_calls("".join(self._said))

    def _add(self, call: ToolCall) -> ToolCall:
        """The call with an id unique in this round (servers may send none, or repeat one)."""
        taken = {known.id for known in self.calls}
        named = call.id or f"call_{self.number}_{len(self.calls)}"
        if named in taken:
            named = f"{named}_{len(self.calls)}"
        call = replace(call, id=named, round=self.number)
        self.calls.append(call)
        return call


#: How a reply that holds calls may end.
_CALLS_END = ("tool_calls", "stop")


def _contained(
    run: Callable[[tuple[ToolCall, ...]], list[ToolCall]], calls: tuple[ToolCall, ...]
) -> list[ToolCall]:
    """Tools run in a worker thread: whatever one raises, even SystemExit or
    KeyboardInterrupt, is its failure, never the end of the event loop's thread."""
    try:
        return run(calls)
    except BaseException as err:
        line = error_line(err)
        return [replace(call, status="failed", error=line) for call in calls]


class ToolLoop:
    """An `EventSource` for a call whose tools run; `current` is the round's own source."""

    def __init__(
        self,
        first: EventSource,
        messages: list[Message],
        *,
        settings: QwQSettings,
        prepare: Callable[[list[Message], QwQSettings], HTTPRequest],
        source_for: Callable[[HTTPRequest, QwQSettings], EventSource],
        run_here: Callable[[tuple[ToolCall, ...]], list[ToolCall]] | None = None,
    ) -> None:
        self.current = first
        self.messages = list(messages)
        self.max_rounds = settings.max_tool_rounds
        self._settings = settings
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
            reading = _Round(round_)
            async for batch in self.current.event_batches(request, settings):
                shown = reading.read(batch, self._usage_seen)
                if shown:
                    yield shown
            if reading.held is None:
                return
            if round_ >= self.max_rounds:
                text = OUT_OF_ROUNDS.format(rounds=self.max_rounds)
                yield [ToolResult(replace(c, status="not run", error=text)) for c in reading.calls]
                yield [reading.held]
                return
            asking = tuple(reading.calls[:MAX_CALLS_PER_ROUND])
            too_many = [
                replace(call, status="not run", error=TOO_MANY)
                for call in reading.calls[MAX_CALLS_PER_ROUND:]
            ]
            if too_many:
                yield [ToolResult(call) for call in too_many]
            if self._run_here is None:  # the reader runs them and answers through `reply`
                future: concurrent.futures.Future[ToolReply] = concurrent.futures.Future()
                yield [ToolsRequested(asking, round_, future, reading.written)]
                reply = await asyncio.wrap_future(future)
            else:
                yield [ToolsRequested(asking, round_, written=reading.written)]
                finished = await asyncio.to_thread(_contained, self._run_here, asking)
                yield [ToolResult(call) for call in finished]
                reply = ToolReply(tuple(finished))
            if reply.stopped:
                return  # ■ stopped a tool: the reader cancels the call
            self.messages += round_messages([*reply.calls, *too_many], reading.said())
            self._before, self._usage = self._summed(self._usage), None
            following = self._next_request(round_ + 1)
            if isinstance(following, str):  # it would not fit the window, or max_cost
                yield [Finish("incomplete", QwQError(following))]
                return
            request, round_settings = following
            self.current = self._source_for(request, round_settings)
            round_ += 1

    def _next_request(self, rounds: int) -> tuple[HTTPRequest, QwQSettings] | str:
        """The request that sends the results back, and its settings; or why there is none.

        The conversation grew by the calls and results, so the answer's room (`max_tokens`)
        shrinks to what the context window leaves, and `max_cost` to what the rounds before
        left. The prompt is estimated on the safe side: a token per 3 bytes of the body.
        """
        settings = self._settings
        request = self._prepare(self.messages, settings)
        prompt = len(request.content) // 3
        changes: dict[str, float | int] = {}
        room = settings.context_window - prompt
        if room < settings.max_tokens:
            if room < MIN_ANSWER_ROOM:
                return TOO_LONG.format(rounds=rounds, prompt=prompt, window=settings.context_window)
            changes["max_tokens"] = room
        left = self._left()
        if left is not None:
            if left <= prompt * float(settings.input_price) / 1e6:
                return SPENT.format(rounds=rounds)
            changes["max_cost"] = left
        if not changes:
            return request, settings
        settings = settings.override(**changes)
        return self._prepare(self.messages, settings), settings

    def _left(self) -> float | None:
        """Of `max_cost`, what the rounds so far have left (None: no cap)."""
        settings = self._settings
        if settings.max_cost is None:
            return None
        spent = (self._before or Usage()).dollars(settings.input_price, settings.output_price)
        return float(settings.max_cost) - spent

    def _usage_seen(self, usage: Usage) -> Usage:
        """The round's latest usage; what the call has used in all, to pass on."""
        self._usage = usage
        return self._summed(usage)

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

    def prepare(more: list[Message], now: QwQSettings) -> HTTPRequest:
        return client.prepare(more, settings=now, credentials_needed=credentials_needed)

    def source_for(request: HTTPRequest, now: QwQSettings) -> EventSource:
        return client.steer(base, request, now, credentials_needed=credentials_needed)

    return ToolLoop(
        source,
        messages,
        settings=settings,
        prepare=prepare,
        source_for=source_for,
        run_here=runner.run if in_thread else None,
    )


publish(globals())
