"""Adding up a call's events into a `Response`, as they arrive.

The views, the session, a batch and the async client all read a call through one builder, so
a response means the same wherever it was built: times measured the same way, usage taken
from the last report, tool calls filled in with their results as the tools finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .errors import QwQError
from .events import (
    AnswerDelta,
    Event,
    Finish,
    FinishReason,
    LoopFound,
    ReasoningDelta,
    Response,
    ThinkingCut,
    ThinkingExtended,
    ToolCallEvent,
    ToolResult,
    ToolsRequested,
    UsageEvent,
)
from .public import publish
from .template import without_calls

__all__ = ["ResponseBuilder"]

#: Between the reasoning (or answer) of one round of tool calls and the next.
ROUND_BREAK = "\n\n"


class ResponseBuilder:
    """Adds up events into a `Response`, timing them with `clock`."""

    def __init__(
        self,
        settings: dict[str, Any] | None = None,
        *,
        input_price: float = 0.66,
        output_price: float = 1.00,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self._start = clock()
        self._reasoning: list[str] = []
        self._answer: list[str] = []
        self._first_token: float | None = None
        self._first_reasoning: float | None = None
        self._first_answer: float | None = None
        self._finished = False
        self._round_answer = 0  # where this round's answer text begins in `_answer`
        #: Texts whose next piece follows tool results: it starts a new paragraph.
        self._after_tools: set[int] = set()
        self.response = Response(
            settings=dict(settings or {}), input_price=input_price, output_price=output_price
        )

    @property
    def finished(self) -> bool:
        return self._finished

    def add(self, event: Event) -> None:
        response = self.response
        if isinstance(event, ReasoningDelta):
            now = self._mark_token()
            if self._first_reasoning is None:
                self._first_reasoning = now
            if self._after_tools:  # empty unless results just went back: one check a token
                self._start_round(self._reasoning)
            self._reasoning.append(event.text)
            response.reasoning_chunks += 1
        elif isinstance(event, AnswerDelta):
            now = self._mark_token()
            if self._first_answer is None:
                self._first_answer = now
            if self._after_tools:
                self._start_round(self._answer)
            self._answer.append(event.text)
            response.answer_chunks += 1
        elif isinstance(event, ToolCallEvent):
            self._mark_token()
            response.tool_calls.append(event.call)
        elif isinstance(event, ToolsRequested):
            response.tool_rounds = event.round + 1
            response.calls += 1  # the results go back in one more request
            if event.written:
                self._take_out_written_calls()
        elif isinstance(event, ToolResult):
            self._settle(event)
        elif isinstance(event, UsageEvent):
            response.usage = event.usage  # cumulative: the last one wins, never summed
        elif isinstance(event, ThinkingCut):
            response.cut = event
            response.calls += event.action == "answer"
        elif isinstance(event, ThinkingExtended):
            response.extensions = event.count
            response.calls += 1
        elif isinstance(event, LoopFound):
            response.loop = event.loop
        elif isinstance(event, Finish):
            response.malformed_events = event.malformed_events
            if event.answer_only and not self._answer:
                self._answer, self._reasoning = self._reasoning, []
                response.answer_chunks, response.reasoning_chunks = response.reasoning_chunks, 0
                self._first_answer, self._first_reasoning = self._first_reasoning, None
            self.finish(event.reason, event.error)

    def finish(self, reason: FinishReason, error: QwQError | None = None) -> Response:
        """Close the response; only the first finish counts."""
        if self._finished:
            return self.response
        self._finished = True
        response = self.response
        now = self._clock()
        response.reasoning = "".join(self._reasoning)
        response.answer = "".join(self._answer)
        response.finish_reason = reason
        response.error = str(error) if error else None
        response.total_time = now - self._start
        if self._first_token is not None:
            response.time_to_first_token = self._first_token - self._start
        if self._first_reasoning is not None:
            thinking_end = self._first_answer if self._first_answer is not None else now
            response.thinking_time = thinking_end - self._first_reasoning
        return response

    def snapshot(self) -> Response:
        """The text so far, for a view that renders before the call finishes."""
        if not self._finished:
            self.response.reasoning = "".join(self._reasoning)
            self.response.answer = "".join(self._answer)
        return self.response

    def _settle(self, event: ToolResult) -> None:
        """Put a finished call in place of the call as the model asked for it."""
        calls = self.response.tool_calls
        done = event.call
        for index, call in enumerate(calls):
            if call.id == done.id and call.round == done.round and not call.status:
                calls[index] = done
                break
        else:
            calls.append(done)
        if done.status == "stopped":
            self.response.calls -= 1  # ■ stopped the tool: its results never go back
        self._after_tools = {id(self._reasoning), id(self._answer)}
        self._round_answer = len(self._answer)

    def _take_out_written_calls(self) -> None:
        """The round's answer held its calls as `<tool_call>` text: keep what was said around."""
        said = without_calls("".join(self._answer[self._round_answer :]))
        self._answer[self._round_answer :] = [said] if said else []

    def _start_round(self, pieces: list[str]) -> None:
        """Text after tool results begins a paragraph, not the middle of the last sentence."""
        if id(pieces) in self._after_tools:
            self._after_tools.discard(id(pieces))
            if pieces and not pieces[-1].endswith("\n"):
                pieces.append(ROUND_BREAK)

    def _mark_token(self) -> float:
        now = self._clock()
        if self._first_token is None:
            self._first_token = now
        return now


publish(globals())
