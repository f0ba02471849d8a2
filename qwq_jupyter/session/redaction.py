"""Known secrets masked in what a server sends back: live, as it streams, and in the end.

A server can echo the token (a prompt injection asks it to, or a test server repeats its
input). Reasoning and answer arrive as one text in pieces, so a secret can be split across two
deltas, or begin in the reasoning and end in the answer; both are caught here. A mask goes to
the part where the secret began.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Literal

from ..core.credentials import MASK, redact, redact_data
from ..core.events import (
    AnswerDelta,
    Event,
    ReasoningDelta,
    Response,
    ThinkingCut,
    ThinkingExtended,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    ToolsRequested,
)

__all__ = ["LiveRedaction", "StreamRedactor", "redact_response"]

Kind = Literal["reasoning", "answer"]
Piece = tuple[Kind, str]


def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    longest_first = sorted((s for s in secrets if s), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first))) if longest_first else None


def _mask(pieces: list[Piece], pattern: re.Pattern[str]) -> list[Piece]:
    """`pieces` with every secret masked, wherever it starts and ends; adjacent kinds merged."""
    starts, kinds, offset = [], [], 0
    for kind, text in pieces:
        starts.append(offset)
        kinds.append(kind)
        offset += len(text)
    combined = "".join(text for _, text in pieces)
    out: list[Piece] = []

    def add(kind: Kind, text: str) -> None:
        if text:
            if out and out[-1][0] == kind:
                out[-1] = (kind, out[-1][1] + text)
            else:
                out.append((kind, text))

    def plain(start: int, stop: int) -> None:
        index = bisect_right(starts, start) - 1
        while start < stop:
            end = starts[index + 1] if index + 1 < len(starts) else len(combined)
            add(kinds[index], combined[start : min(stop, end)])
            start = min(stop, end)
            index += 1

    done = 0
    for match in pattern.finditer(combined):
        plain(done, match.start())
        add(kinds[bisect_right(starts, match.start()) - 1], MASK)
        done = match.end()
    plain(done, len(combined))
    return out


class StreamRedactor:
    """Masks secrets in text that arrives in pieces, even one split across pieces or kinds.

    It holds back the last (longest secret − 1) characters until more text, or the end, shows
    they do not start a secret. With no secret known, text passes as it came.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._pattern = _pattern(secrets)
        self._hold = max((len(secret) for secret in secrets), default=1) - 1
        self._pending: list[Piece] = []

    def feed(self, kind: Kind, text: str) -> list[Piece]:
        if self._pattern is None:
            return [(kind, text)] if text else []
        if text:
            self._pending.append((kind, text))
        pieces = _mask(self._pending, self._pattern)
        room = sum(len(text) for _, text in pieces) - self._hold
        released: list[Piece] = []
        self._pending = []
        for piece_kind, piece in pieces:
            if room >= len(piece):
                released.append((piece_kind, piece))
            elif room > 0:
                released.append((piece_kind, piece[:room]))
                self._pending.append((piece_kind, piece[room:]))
            else:
                self._pending.append((piece_kind, piece))
            room -= len(piece)
        return released

    def flush(self) -> list[Piece]:
        pieces, self._pending = self._pending, []
        return _mask(pieces, self._pattern) if self._pattern else pieces


class LiveRedaction:
    """The live events of one call with known secrets masked: what a view may show."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets
        self._text = StreamRedactor(secrets)

    def events(self, event: Event | None) -> list[Event | None]:
        if isinstance(event, ReasoningDelta):
            return _as_events(self._text.feed("reasoning", event.text))
        if isinstance(event, AnswerDelta):
            return _as_events(self._text.feed("answer", event.text))
        if isinstance(event, ToolCallEvent):
            # The round's text has ended: what was held back is shown before the call.
            return [*_as_events(self._text.flush()), ToolCallEvent(self._masked(event.call))]
        if isinstance(event, ToolsRequested):
            calls = tuple(self._masked(call) for call in event.calls)
            return [*_as_events(self._text.flush()), ToolsRequested(calls, event.round)]
        if isinstance(event, ToolResult):
            return [ToolResult(self._masked(event.call))]
        if isinstance(event, (ThinkingCut, ThinkingExtended)):
            # The reasoning before the marker is shown before it; nothing continues it.
            return [*_as_events(self._text.flush()), event]
        return [event]

    def _masked(self, call: ToolCall) -> ToolCall:
        return ToolCall(**redact_data(call.to_dict(), self._secrets))

    def end(self) -> list[Event | None]:
        """What was held back, once the call is over."""
        return _as_events(self._text.flush())


def _as_events(pieces: list[Piece]) -> list[Event | None]:
    return [
        ReasoningDelta(text) if kind == "reasoning" else AnswerDelta(text) for kind, text in pieces
    ]


def redact_response(response: Response, secrets: tuple[str, ...]) -> bool:
    """Mask known secrets a server echoed into `response`, in place; whether any was.

    In place, so every holder of this response (a background stream, `--out`) sees the masked
    text, never the secret.
    """
    pattern = _pattern(secrets)
    if pattern is None:
        return False
    before = response.to_dict()
    masked = _mask([("reasoning", response.reasoning), ("answer", response.answer)], pattern)
    response.reasoning = "".join(text for kind, text in masked if kind == "reasoning")
    response.answer = "".join(text for kind, text in masked if kind == "answer")
    if response.error:
        response.error = redact(response.error, secrets)
    response.tool_calls = [
        ToolCall(**redact_data(call.to_dict(), secrets)) for call in response.tool_calls
    ]
    return response.to_dict() != before
