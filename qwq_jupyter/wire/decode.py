"""Turn reply payloads (SSE `data` strings or a whole JSON reply) into typed events.

How a payload becomes a `Chunk` is the request's dialect's business (`dialects.py`): the
decoder asks it through its public `text_only` (the per-token fast path) and `read_chunk`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..core.errors import (
    IncompleteStreamError,
    ReplyTooLargeError,
    ServerReportedError,
    UnreadableReplyError,
    server_text,
)
from ..core.events import (
    AnswerDelta,
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    ToolCallEvent,
    UsageEvent,
)
from .chunks import Chunk, ToolCallAssembler, read_error
from .dialects import WORKERS_AI, Dialect
from .reasoning import OpensIn, ReasoningSplitter
from .sse import DONE

__all__ = ["EventDecoder"]

_KNOWN_FINISH = {"stop", "length", "tool_calls"}
# What one odd payload can raise while being read: skipped and counted, never a crash.
# RecursionError: deeply nested JSON; ArithmeticError: numbers such as 1e999.
_ODD = (TypeError, ValueError, AttributeError, KeyError, ArithmeticError, RecursionError)

#: Text per token a reply may carry before it counts as runaway; QwQ's tokens are far shorter.
CHARS_PER_TOKEN = 64
#: The token ceiling when the request names none: QwQ's whole context window.
DEFAULT_TOKEN_CEILING = 131_072


class EventDecoder:
    """Reads payloads in order and yields events; one decoder per reply.

    `max_tokens` is what the request asked for: a stream that ends at `[DONE]` without saying
    why, after that many output tokens, was cut off (`length`), not finished. It also bounds
    what a reply may hold: far more chunks or text than it allows is a runaway server
    (`runaway()`), and the client stops reading rather than fill the kernel's memory.

    `dialect` reads the payloads (the request's `rules`); Workers AI's, the default, reads
    both shapes, with its own chunk as the fast path. `opens_in="answer"`: the request was a
    continuation whose prompt closed the thinking, so its text is all answer.
    """

    def __init__(
        self,
        max_tokens: object = None,
        dialect: Dialect = WORKERS_AI,
        opens_in: OpensIn = "reasoning",
    ) -> None:
        self._text_only = dialect.text_only
        self._read_chunk = dialect.read_chunk
        self._read_error = dialect.read_error
        self._splitter = ReasoningSplitter(opens_in)
        self._tools = ToolCallAssembler()
        valid = isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0
        self._max_tokens: int | None = max_tokens if valid else None  # type: ignore[assignment]
        ceiling = min(self._max_tokens or DEFAULT_TOKEN_CEILING, 1 << 24)
        self.token_ceiling = ceiling
        # Slack: servers may split a token over two chunks, and a UTF-8 character over two.
        self._chunk_limit = ceiling + ceiling // 4 + 64
        self._char_limit = ceiling * CHARS_PER_TOKEN + 4096
        self._parsed = 0  # payloads that were JSON objects
        self._reasoning_in_field = False
        self._finish_reason: str | None = None
        self._output_tokens: int | None = None
        self._done = False
        self._whole = False
        self.malformed = 0
        self.tokens = 0  # text-bearing chunks seen; after one, a failure is not retried
        self.chars = 0  # characters of text, reasoning and tool calls kept

    def feed(self, payload: str) -> list[Event]:
        """One SSE data payload. Raises ServerReportedError for an error event."""
        if payload == DONE or (len(payload) < 16 and payload.strip() == DONE):
            self._done = True
            return []
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            self.malformed += 1
            return []
        text = self._text_only(data) if type(data) is dict else None
        if text is not None:
            # The dialect's common chunk (Workers AI's {"response": "…", "p": "…"}): only
            # text, straight to events.
            self.tokens += 1
            self.chars += len(text)
            if self._reasoning_in_field:
                return [AnswerDelta(text)]
            return [self._delta(kind, piece) for kind, piece in self._splitter.feed(text)]
        return self._read(data)

    def feed_whole(self, data: Any) -> list[Event]:
        """A complete non-streamed reply body. Raises UnreadableReplyError if it is no object."""
        if not isinstance(data, dict):
            raise UnreadableReplyError(f"the server's reply is not a JSON object ({_kind(data)})")
        events = self._read(data)
        self._done = self._whole = True
        return events

    def runaway(self) -> ReplyTooLargeError | None:
        """An error if the reply outgrew what max_tokens allows (checked once per read)."""
        if self.tokens <= self._chunk_limit and self.chars <= self._char_limit:
            return None
        asked = f"max_tokens {self._max_tokens:,}" if self._max_tokens else "the context window"
        return ReplyTooLargeError(
            f"the server sent far more text than {asked} allows; the rest was not read"
        )

    def flush(self) -> list[Event]:
        """Text held back (a possible tag) and assembled tool calls, released as they are."""
        events: list[Event] = [self._delta(kind, text) for kind, text in self._splitter.flush()]
        return events + [ToolCallEvent(call) for call in self._tools.finish()]

    def end(self) -> list[Event]:
        """The byte stream ended. Raises IncompleteStreamError if it ended early."""
        events = self.flush()
        explicit = self._finish_reason
        if not (self.tokens or self._parsed or self._whole) and (self._done or self.malformed):
            # Only unreadable lines, or [DONE] and nothing else: not an (empty) answer.
            malformed = f" ({self.malformed} unreadable)" if self.malformed else ""
            raise UnreadableReplyError(f"the server sent no readable event{malformed}")
        if not self._done and explicit is None:
            if self.tokens:
                events.append(
                    Finish("incomplete", IncompleteStreamError(_INCOMPLETE), self.malformed)
                )
                return events
            raise IncompleteStreamError(_INCOMPLETE)
        error = None
        if explicit in _KNOWN_FINISH:
            reason: FinishReason = explicit  # type: ignore[assignment]
        elif explicit is not None:  # content_filter and the like: not a finished answer
            reason = "incomplete"
            error = IncompleteStreamError(
                f"the server stopped the reply ({server_text(explicit, 60)})"
            )
        elif self._hit_max_tokens():
            reason = "length"
        else:
            reason = "stop"
        # The inline shape streams text before `</think>` as reasoning (the template opened
        # `<think>` in the prompt). A reply that finished normally without ever closing it was
        # the answer: a model that does not think, or a server that strips the thinking. One
        # cut off (`length`, `incomplete`, …) is reasoning that never reached its answer.
        answer_only = reason == "stop" and self._unclosed_inline()
        events.append(Finish(reason, error, self.malformed, answer_only))
        return events

    def _unclosed_inline(self) -> bool:
        """Inline-shape text whose reasoning never closed: all of it so far came as reasoning."""
        return not self._reasoning_in_field and not self._splitter.saw_close_tag

    def _hit_max_tokens(self) -> bool:
        if self._max_tokens is None:
            return False
        if self._output_tokens is not None:
            return self._output_tokens >= self._max_tokens
        # No usage either: as many text chunks as tokens allowed is as good as a count. Only
        # for unclosed reasoning, which would otherwise be taken for a finished answer.
        return self._unclosed_inline() and self.tokens >= self._max_tokens

    def _read(self, data: Any) -> list[Event]:
        if not isinstance(data, dict):
            self.malformed += 1
            return []
        self._parsed += 1
        _raise_reported_error(data, self._read_error)
        try:
            return self._chunk(self._read_chunk(data))
        except _ODD:
            # Valid JSON of an unexpected shape (a list where text belongs, …): skip it, count
            # it, never crash the call over one odd event.
            self.malformed += 1
            return []

    def _chunk(self, chunk: Chunk) -> list[Event]:
        events: list[Event] = []
        self.chars += len(chunk.text) + len(chunk.reasoning)
        if chunk.reasoning:
            self._reasoning_in_field = True
            events.append(ReasoningDelta(chunk.reasoning))
        if chunk.text:
            if self._reasoning_in_field:
                events.append(AnswerDelta(chunk.text))
            else:
                events += [self._delta(k, t) for k, t in self._splitter.feed(chunk.text)]
        if chunk.tool_calls:
            self.chars += self._tools.add(chunk.tool_calls)
        if chunk.usage is not None:
            events.append(UsageEvent(chunk.usage))
            self._output_tokens = chunk.usage.output_tokens
        if isinstance(chunk.finish_reason, str) and chunk.finish_reason:
            self._finish_reason = chunk.finish_reason
        if chunk.text or chunk.reasoning or chunk.tool_calls:
            self.tokens += 1
        return events

    @staticmethod
    def _delta(kind: str, text: str) -> Event:
        return ReasoningDelta(text) if kind == "reasoning" else AnswerDelta(text)


def _raise_reported_error(data: dict[str, Any], read: Callable[[Any], Any] = read_error) -> None:
    """vLLM and others end a failing stream with an error event instead of text."""
    if "choices" in data or "response" in data:
        return
    found = read(data)
    if found is None and data.get("success") is False:
        found = (None, "unknown error")
    if found is not None:
        message = server_text(found[1]) or "no message"
        raise ServerReportedError(f"the server reported an error mid-reply: {message}")


def _kind(data: Any) -> str:
    return "empty" if data is None else f"a JSON {type(data).__name__}"


_INCOMPLETE = "the stream ended before the reply was finished (no [DONE], no finish reason)"
