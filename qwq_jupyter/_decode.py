"""Turn reply payloads (SSE `data` strings or a whole JSON reply) into typed events."""

from __future__ import annotations

import json
from typing import Any

from ._errors import NetworkError
from ._events import (
    AnswerDelta,
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    ToolCallEvent,
    UsageEvent,
)
from ._reasoning import ReasoningSplitter
from ._sse import DONE
from ._wire import Chunk, ToolCallAssembler, read_chunk

__all__ = ["EventDecoder", "IncompleteStreamError"]

_KNOWN_FINISH = {"stop", "length", "tool_calls"}


class IncompleteStreamError(NetworkError):
    """The stream closed without `[DONE]` or a finish reason."""


class EventDecoder:
    """Reads payloads in order and yields events; one decoder per reply."""

    def __init__(self) -> None:
        self._splitter = ReasoningSplitter()
        self._tools = ToolCallAssembler()
        self._reasoning_in_field = False
        self._finish_reason: str | None = None
        self._done = False
        self.malformed = 0
        self.tokens = 0  # text-bearing chunks seen; after one, a failure is not retried

    def feed(self, payload: str) -> list[Event]:
        """One SSE data payload."""
        if payload == DONE or (len(payload) < 16 and payload.strip() == DONE):
            self._done = True
            return []
        try:
            data = json.loads(payload)
        except ValueError:
            self.malformed += 1
            return []
        if not isinstance(data, dict):
            self.malformed += 1
            return []
        return self._chunk(read_chunk(data))

    def feed_whole(self, data: Any) -> list[Event]:
        """A complete non-streamed reply body."""
        if not isinstance(data, dict):
            self.malformed += 1
            return []
        events = self._chunk(read_chunk(data))
        self._done = True
        return events

    def end(self) -> list[Event]:
        """The byte stream ended. Raises IncompleteStreamError if it ended early."""
        events: list[Event] = [self._delta(kind, text) for kind, text in self._splitter.flush()]
        events += [ToolCallEvent(call) for call in self._tools.finish()]
        if not self._done and self._finish_reason is None:
            if self.tokens:
                events.append(
                    Finish("incomplete", IncompleteStreamError(_INCOMPLETE), self.malformed)
                )
                return events
            raise IncompleteStreamError(_INCOMPLETE)
        reason: FinishReason = "stop"
        if self._finish_reason in _KNOWN_FINISH:
            reason = self._finish_reason  # type: ignore[assignment]
        answer_only = (
            reason == "stop" and not self._reasoning_in_field and not self._splitter.saw_close_tag
        )
        events.append(Finish(reason, None, self.malformed, answer_only))
        return events

    def _chunk(self, chunk: Chunk) -> list[Event]:
        events: list[Event] = []
        if chunk.has_reasoning_field:
            self._reasoning_in_field = True
            if chunk.reasoning:
                events.append(ReasoningDelta(chunk.reasoning))
        if chunk.text:
            if self._reasoning_in_field:
                events.append(AnswerDelta(chunk.text))
            else:
                events += [self._delta(k, t) for k, t in self._splitter.feed(chunk.text)]
        if chunk.tool_calls:
            self._tools.add(chunk.tool_calls)
        if chunk.usage is not None:
            events.append(UsageEvent(chunk.usage))
        if chunk.finish_reason:
            self._finish_reason = chunk.finish_reason
        if chunk.text or chunk.reasoning or chunk.tool_calls:
            self.tokens += 1
        return events

    @staticmethod
    def _delta(kind: str, text: str) -> Event:
        return ReasoningDelta(text) if kind == "reasoning" else AnswerDelta(text)


_INCOMPLETE = "the stream ended before the reply was finished (no [DONE], no finish reason)"
