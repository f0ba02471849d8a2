"""Record a notebook's real replies, with their timing, and replay them with no network or key.

A cassette is a JSON file of entries keyed by the request: a hash of the dialect and the JSON
body (messages and every parameter), never the URL or headers, so it holds no token and no
account id. A request that was not recorded (a changed prompt, a changed setting) is a miss,
reported as an error, never answered with another request's reply.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.credentials import known_secrets, redact
from ..core.errors import ConfigurationError, QwQError, ReplayMiss
from ..core.events import (
    AnswerDelta,
    Event,
    Finish,
    ReasoningDelta,
    Retrying,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)

if TYPE_CHECKING:
    from ..core.settings import QwQSettings
    from ..wire.request import HTTPRequest
    from .source import EventSource

__all__ = ["Cassette", "cassette_from_environment"]

FORMAT = "qwq-jupyter/cassette"
RECORD_ENV = "QWQ_JUPYTER_RECORD"
REPLAY_ENV = "QWQ_JUPYTER_REPLAY"


def request_key(request: HTTPRequest) -> str:
    canonical = json.dumps({"dialect": request.dialect, "body": request.body}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _encode(event: Event) -> dict[str, Any]:
    if isinstance(event, ReasoningDelta):
        return {"type": "reasoning", "text": event.text}
    if isinstance(event, AnswerDelta):
        return {"type": "answer", "text": event.text}
    if isinstance(event, ToolCallEvent):
        return {"type": "tool_call", **event.call.to_dict()}
    if isinstance(event, UsageEvent):
        return {"type": "usage", **asdict(event.usage)}
    assert isinstance(event, Finish)
    error = str(event.error) if event.error else None
    return {
        "type": "finish",
        "reason": event.reason,
        "error": error,
        "malformed_events": event.malformed_events,
        "answer_only": event.answer_only,
    }


_FINISH_REASONS = ("stop", "length", "tool_calls", "interrupted", "incomplete", "error")


def _decode(data: dict[str, Any]) -> Event:
    """The event `data` encodes; ValueError saying what is wrong if it is of the wrong shape."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind in ("reasoning", "answer"):
        text = _field(data, "text", str)
        return ReasoningDelta(text) if kind == "reasoning" else AnswerDelta(text)
    if kind == "tool_call":
        return ToolCallEvent(
            ToolCall(_field(data, "name", str), data.get("arguments"), data.get("id"))
        )
    if kind == "usage":
        fields = {k: data.get(k) for k in ("input_tokens", "output_tokens", "reasoning_tokens")}
        if not all(value is None or type(value) is int for value in fields.values()):
            raise ValueError("usage counts must be integers")
        return UsageEvent(
            Usage(fields["input_tokens"], fields["output_tokens"], fields["reasoning_tokens"])
        )
    if kind != "finish":
        raise ValueError(f"unknown event type {kind!r}")
    if data.get("reason") not in _FINISH_REASONS:
        raise ValueError(f"finish reason must be one of {', '.join(_FINISH_REASONS)}")
    error = QwQError(str(data["error"])) if data.get("error") else None
    malformed = data.get("malformed_events", 0)
    if type(malformed) is not int:
        raise ValueError("malformed_events must be an integer")
    return Finish(data["reason"], error, malformed, bool(data.get("answer_only", False)))


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"{data['type']} event needs {name} as {kind.__name__}")
    return value


def _read_entries(payload: Any) -> dict[str, dict[str, Any]]:
    """The entries of a cassette file, every event checked; ValueError saying where not."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError("it is not a qwq-jupyter cassette")
    entries = payload.get("entries")
    if not isinstance(entries, dict):
        raise ValueError("it has no entries object")
    for key, entry in entries.items():
        events = entry.get("events") if isinstance(entry, dict) else None
        if not isinstance(events, list):
            raise ValueError(f"entry {key!r} has no events list")
        for number, item in enumerate(events):
            at = item[0] if isinstance(item, list) and len(item) == 2 else None
            if isinstance(at, bool) or not isinstance(at, (int, float)):
                raise ValueError(f"entry {key!r}, event {number}: expected [seconds, event]")
            try:
                _decode(item[1])
            except ValueError as err:
                raise ValueError(f"entry {key!r}, event {number}: {err}") from None
    return entries


def _check_writable(path: Path) -> None:
    """Refuse at once a path a recording could never be written to, rather than record nothing."""
    if path.is_dir():
        raise ConfigurationError(f"cannot record to {path}: it is a folder; give a file name")
    if not path.parent.is_dir():
        raise ConfigurationError(f"cannot record to {path}: there is no folder {path.parent}")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
        if path.exists():
            with path.open("a", encoding="utf-8"):
                pass
    except OSError as err:
        raise ConfigurationError(f"cannot record to {path}: {err.strerror or err}") from None


def _masked(
    events: list[tuple[float, Event]], secrets: tuple[str, ...]
) -> list[tuple[float, Event]]:
    """Events with every secret masked, even one a server streamed across several deltas."""
    masked: list[tuple[float, Event]] = []
    start = 0
    while start < len(events):
        kind = type(events[start][1])
        end = start + 1
        if kind in (ReasoningDelta, AnswerDelta):
            while end < len(events) and type(events[end][1]) is kind:
                end += 1
            masked += _masked_run(events[start:end], kind, secrets)
        else:
            masked.append(events[start])
        start = end
    return masked


def _masked_run(
    run: list[tuple[float, Any]], kind: type, secrets: tuple[str, ...]
) -> list[tuple[float, Event]]:
    """Deltas of one kind in a row: those a secret spans become one (timed at its last piece)."""
    texts = [event.text for _, event in run]
    ends = list(itertools.accumulate(len(text) for text in texts))
    joined = "".join(texts)
    with_previous = [False] * len(run)
    for secret in secrets:
        at = joined.find(secret)
        while at != -1:
            first = bisect.bisect_right(ends, at)
            last = bisect.bisect_right(ends, at + len(secret) - 1)
            for index in range(first + 1, last + 1):
                with_previous[index] = True
            at = joined.find(secret, at + len(secret))
    pieces: list[tuple[float, str]] = []
    for (at_time, _event), text, join in zip(run, texts, with_previous, strict=True):
        if join:
            pieces[-1] = (at_time, pieces[-1][1] + text)
        else:
            pieces.append((at_time, text))
    return [(at_time, kind(redact(text, secrets))) for at_time, text in pieces]


class Cassette:
    """Entries of recorded events; `mode` is "record" or "replay"."""

    def __init__(self, path: str | Path, mode: str, *, speed: float = 1.0) -> None:
        self.path = Path(path)
        self.mode = mode
        self.speed = speed  # replay pace: 1 = as recorded, 4 = four times faster, 0 = at once
        self.entries: dict[str, dict[str, Any]] = {}
        if mode not in ("record", "replay"):
            raise ConfigurationError(f"cassette mode must be record or replay, not {mode!r}")
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed >= 0:
            raise ConfigurationError(
                f"speed must be a number from 0 up (1 = as recorded), not {speed!r}"
            )
        if mode == "record":
            _check_writable(self.path)
        if self.path.is_file():
            try:
                payload = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ConfigurationError(f"cannot read the cassette {self.path}: {err}") from None
            try:
                self.entries = _read_entries(payload)
            except ValueError as err:
                raise ConfigurationError(f"cannot use {self.path} as a cassette: {err}") from None
        elif mode == "replay":
            raise ConfigurationError(
                f"no cassette at {self.path}: record one with %qwq record PATH"
            )

    def wrap(self, source: EventSource) -> _Recorder | _Player:
        """Record what `source` (the HTTP client, or the demo) sends, or replay instead of it."""
        return _Recorder(source, self) if self.mode == "record" else _Player(source, self)

    def add(
        self, request: HTTPRequest, events: list[tuple[float, Event]], secrets: tuple[str, ...]
    ) -> None:
        self.entries[request_key(request)] = {
            "request": request.body,
            "events": [[round(t, 4), _encode(event)] for t, event in _masked(events, secrets)],
        }
        text = json.dumps(
            {"format": FORMAT, "version": 1, "entries": self.entries}, indent=1, ensure_ascii=False
        )
        try:
            self.path.write_text(redact(text, secrets), encoding="utf-8")
        except OSError as err:
            raise ConfigurationError(
                f"cannot write the cassette {self.path}: {err.strerror or err}"
            ) from None

    def find(self, request: HTTPRequest) -> list[tuple[float, Event]] | None:
        entry = self.entries.get(request_key(request))
        if entry is None:
            return None
        return [(t, _decode(data)) for t, data in entry["events"]]

    def __repr__(self) -> str:
        return f"<Cassette {self.mode} {self.path} ({len(self.entries)} entries)>"


class _CassetteSource:
    """An `EventSource` in front of another: it records that one's events, or replays them."""

    def __init__(self, source: EventSource, cassette: Cassette) -> None:
        self._client = source
        self._cassette = cassette


class _Recorder(_CassetteSource):
    """Passes calls to the real client and keeps each finished call's events with their times,
    and those of a call closed early by steering (a cut thinking)."""

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        start = time.monotonic()
        recorded: list[tuple[float, Event]] = []
        try:
            async for batch in self._client.event_batches(request, settings):
                now = time.monotonic() - start
                recorded += [(now, event) for event in batch if not isinstance(event, Retrying)]
                yield batch
        except GeneratorExit:
            # Closed by whoever reads it: steering cut the thinking here. Kept, so a replay
            # cuts at the same token and asks for the same (recorded) continuation.
            if recorded:
                recorded.append((time.monotonic() - start, Finish("interrupted")))
                self._keep(request, recorded)
            raise
        finish = recorded[-1][1] if recorded else None
        if isinstance(finish, Finish) and finish.reason != "error":
            self._keep(request, recorded)

    def _keep(self, request: HTTPRequest, recorded: list[tuple[float, Event]]) -> None:
        credentials = getattr(self._client, "credentials", None)  # the demo has none
        self._cassette.add(request, recorded, known_secrets(credentials))


class _Player(_CassetteSource):
    """Replays recorded events at the recorded pace (scaled by `speed`); no network."""

    async def event_batches(
        self, request: HTTPRequest, settings: QwQSettings | None = None
    ) -> AsyncIterator[list[Event]]:
        events = self._cassette.find(request)
        if events is None:
            miss = ReplayMiss(
                f"replay miss: {self._cassette.path.name} has no reply for this request (the "
                "prompt, history or a setting changed); record it again with %qwq record"
            )
            yield [Finish("error", miss)]
            return
        start = time.monotonic()
        speed = self._cassette.speed
        for at, event in events:
            if speed > 0:
                await asyncio.sleep(max(0.0, start + at / speed - time.monotonic()))
            yield [event]


def cassette_from_environment() -> Cassette | None:
    """QWQ_JUPYTER_REPLAY=path or QWQ_JUPYTER_RECORD=path switches a whole run (CI, a class)."""
    for variable, mode, speed in ((REPLAY_ENV, "replay", 0.0), (RECORD_ENV, "record", 1.0)):
        if os.environ.get(variable):
            try:
                return Cassette(os.environ[variable], mode, speed=speed)
            except ConfigurationError as err:
                # Said once, in one line; raising here would break every later cell instead.
                print(f"note: {variable} is ignored: {err}", file=sys.stderr)
                return None
    return None
