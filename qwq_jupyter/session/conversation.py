"""Conversations held in the kernel: turns, the history sent back, and fitting the window.

QwQ's chat template strips earlier reasoning, so the history sent back holds only final
answers. A turn that was interrupted or cut off is kept (it is on screen) but not sent back
unless the user keeps it. Re-running a cell replaces that cell's turn instead of adding one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.credentials import known_secrets, redact_data
from ..core.errors import ConfigurationError, ContextWindowError
from ..core.events import Response
from ..wire.tool_messages import tool_rounds

__all__ = [
    "Conversation",
    "ConversationStore",
    "TokenEstimator",
    "Turn",
    "WindowFit",
    "read_turn",
]

Message = dict[str, Any]

FORMAT = "qwq-jupyter/conversations"
VERSION = 1
#: Tokens the chat template adds per message (`<|im_start|>role\n … <|im_end|>\n`).
MESSAGE_OVERHEAD = 5
#: Fewest output tokens worth asking for: QwQ needs room to reason at all.
MIN_OUTPUT_TOKENS = 256


@dataclass
class Turn:
    """One question and the model's reply."""

    prompt: str
    response: Response = field(default_factory=Response)
    cell_id: str | None = None
    keep: bool | None = None  # None: decided by how the reply finished
    created: float = field(default_factory=time.time)

    @property
    def answer(self) -> str:
        return self.response.answer

    @property
    def in_history(self) -> bool:
        """Whether this turn is sent back: complete answers are, cut-off ones only if kept."""
        if self.keep is not None:
            return self.keep and bool(self.response.answer)
        return self.response.complete and bool(self.response.answer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "response": self.response.to_dict(),
            "cell_id": self.cell_id,
            "keep": self.keep,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            prompt=data["prompt"],
            response=Response.from_dict(data.get("response", {})),
            cell_id=data.get("cell_id"),
            keep=data.get("keep"),
            created=data.get("created", 0.0),
        )


@dataclass
class Conversation:
    name: str
    system_prompt: str = ""
    turns: list[Turn] = field(default_factory=list)

    def history(self, before: int | None = None) -> list[Message]:
        """Messages for the turns sent back: system prompt, then user/answer pairs."""
        messages: list[Message] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        for turn in self.turns[:before]:
            if turn.in_history:
                messages.append({"role": "user", "content": turn.prompt})
                messages += tool_rounds(turn.response.tool_calls)
                messages.append({"role": "assistant", "content": turn.answer})
        return messages

    def slot_for(self, cell_id: str | None, *, append: bool = False) -> int:
        """Where a new turn from this cell goes: over the cell's last turn, or at the end."""
        if cell_id and not append:
            for index in range(len(self.turns) - 1, -1, -1):
                if self.turns[index].cell_id == cell_id:
                    return index
        return len(self.turns)

    def put(self, slot: int, turn: Turn) -> None:
        if slot < len(self.turns):
            self.turns[slot] = turn
        else:
            self.turns.append(turn)

    def undo(self) -> Turn | None:
        return self.turns.pop() if self.turns else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "system_prompt": self.system_prompt,
            "turns": [turn.to_dict() for turn in self.turns],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        return cls(
            name=data["name"],
            system_prompt=data.get("system_prompt", ""),
            turns=[Turn.from_dict(turn) for turn in data.get("turns", [])],
        )


class ConversationStore:
    """Named conversations; `default` unless a cell says `--chat NAME`."""

    def __init__(self, secrets: Callable[[], tuple[str, ...]] | None = None) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.current = "default"
        #: The session's known secrets, masked in saved files (the environment's always are).
        self.secrets = secrets

    def get(self, name: str | None = None, *, system_prompt: str = "") -> Conversation:
        name = name or self.current
        if name not in self.conversations:
            self.conversations[name] = Conversation(name, system_prompt)
        return self.conversations[name]

    def reset(self, name: str | None = None, *, system_prompt: str = "") -> Conversation:
        name = name or self.current
        self.conversations[name] = Conversation(name, system_prompt)
        return self.conversations[name]

    def save(self, path: str | Path) -> Path:
        """Write every conversation as JSON, known secrets masked; the old file stays on failure.

        Turns are masked when recorded; this second layer catches a secret that reached a
        conversation another way (a loaded file, a turn kept by hand).
        """
        path = Path(path)
        secrets = known_secrets() + (self.secrets() if self.secrets is not None else ())
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "current": self.current,
            "conversations": [c.to_dict() for c in self.conversations.values()],
        }
        try:
            text = json.dumps(redact_data(payload, secrets), indent=1, ensure_ascii=False)
        except (TypeError, ValueError) as err:
            raise ConfigurationError(f"cannot save conversations: {err}") from None
        _write_atomically(path, text)
        return path

    def load(self, path: str | Path) -> list[str]:
        """Read conversations saved by `save`, replacing any of the same name.

        The whole file is checked first: a file of the wrong shape changes nothing and is
        refused in one line saying where it is wrong.
        """
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigurationError(f"cannot read conversations from {path}: {err}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ConfigurationError(f"{path} is not a qwq-jupyter conversations file")
        try:
            loaded = _read_payload(payload)
        except _Malformed as err:
            raise ConfigurationError(f"{path} cannot be loaded: {err}") from None
        self.conversations.update((c.name, c) for c in loaded)
        self.current = payload.get("current", self.current)
        return [c.name for c in loaded]


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written file."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as err:
        raise ConfigurationError(f"cannot save conversations to {path}: {_reason(err)}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise ConfigurationError(f"cannot save conversations to {path}: {_reason(err)}") from None


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


class _Malformed(ValueError):
    """Where a conversations file is of the wrong shape, e.g. `conversations[0].name`."""


_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))
_OPTIONAL_TEXT = (str, type(None))
_FINISH_REASONS = ("stop", "length", "tool_calls", "interrupted", "incomplete", "error")
#: The fields of a saved response and the types each may hold.
_RESPONSE_FIELDS: dict[str, tuple[type, ...]] = {
    "answer": (str,),
    "reasoning": (str,),
    "tool_calls": (list,),
    "usage": (dict,),
    "finish_reason": (str,),
    "error": _OPTIONAL_TEXT,
    "time_to_first_token": _OPTIONAL_NUMBER,
    "thinking_time": _OPTIONAL_NUMBER,
    "total_time": _NUMBER,
    "reasoning_chunks": (int,),
    "answer_chunks": (int,),
    "malformed_events": (int,),
    "input_price": _NUMBER,
    "output_price": _NUMBER,
    "settings": (dict,),
    "cut": (dict, type(None)),
    "extensions": (int,),
    "loop": (dict, type(None)),
    "calls": (int,),
    "reused": (bool,),
}
_USAGE_FIELDS = ("input_tokens", "output_tokens", "reasoning_tokens", "estimated")
#: Where steering cut the thinking (`ThinkingCut`) and the loop it found (`Loop`), as saved.
_CUT_FIELDS: dict[str, tuple[type, ...]] = {
    "reason": (str,),
    "at_tokens": (int,),
    "action": (str,),
    "closing": (str,),
}
_LOOP_FIELDS: dict[str, tuple[type, ...]] = {
    "start": (int,),
    "period": (int,),
    "repeats": _NUMBER,
    "found_at": (int,),
    "start_char": (int,),
    "action": (str,),
}
_KIND_NAMES = {
    str: "text",
    int: "an integer",
    float: "a number",
    list: "a list",
    dict: "an object",
    bool: "true or false",
    type(None): "null",
}


def _expect(value: Any, kinds: tuple[type, ...], where: str) -> Any:
    """`value` if it is one of `kinds` (a bool is no number here), else a _Malformed error."""
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        allowed = " or ".join(dict.fromkeys(_KIND_NAMES.get(kind, kind.__name__) for kind in kinds))
        raise _Malformed(f"{where} must be {allowed}, not {type(value).__name__}")
    return value


def _read_payload(payload: dict[str, Any]) -> list[Conversation]:
    """Every conversation of a saved file, or _Malformed naming the first thing wrong."""
    version = _expect(payload.get("version", VERSION), (int,), "version")
    if version > VERSION:
        raise _Malformed(f"version {version} was written by a newer qwq-jupyter")
    _expect(payload.get("current", "default"), (str,), "current")
    if "conversations" not in payload:
        raise _Malformed("it has no conversations list")
    entries = _expect(payload["conversations"], (list,), "conversations")
    return [_read_conversation(data, f"conversations[{i}]") for i, data in enumerate(entries)]


def _read_conversation(data: Any, where: str) -> Conversation:
    _expect(data, (dict,), where)
    if "name" not in data:
        raise _Malformed(f"{where} has no name")
    if not _expect(data["name"], (str,), f"{where}.name"):
        raise _Malformed(f"{where}.name must not be empty")
    _expect(data.get("system_prompt", ""), (str,), f"{where}.system_prompt")
    turns = _expect(data.get("turns", []), (list,), f"{where}.turns")
    for number, turn in enumerate(turns):
        _check_turn(turn, f"{where}.turns[{number}]")
    return Conversation.from_dict(data)


def read_turn(data: Any) -> Turn:
    """A turn from untrusted JSON (a saved notebook's record), or ValueError saying what."""
    try:
        _check_turn(data, "the turn")
    except _Malformed as err:
        raise ValueError(str(err)) from None
    return Turn.from_dict(data)


def _check_turn(data: Any, where: str) -> None:
    _expect(data, (dict,), where)
    if "prompt" not in data:
        raise _Malformed(f"{where} has no prompt")
    _expect(data["prompt"], (str,), f"{where}.prompt")
    _expect(data.get("cell_id"), _OPTIONAL_TEXT, f"{where}.cell_id")
    _expect(data.get("keep"), (bool, type(None)), f"{where}.keep")
    _expect(data.get("created", 0.0), _NUMBER, f"{where}.created")
    _check_response(_expect(data.get("response", {}), (dict,), f"{where}.response"), where)


def _check_response(data: dict[str, Any], turn: str) -> None:
    where = f"{turn}.response"
    for name, kinds in _RESPONSE_FIELDS.items():
        if name in data:
            _expect(data[name], kinds, f"{where}.{name}")
    reason = data.get("finish_reason", "stop")
    if reason not in _FINISH_REASONS:
        raise _Malformed(f"{where}.finish_reason must be one of {', '.join(_FINISH_REASONS)}")
    usage = data.get("usage", {})
    for name in usage:
        if name not in _USAGE_FIELDS:
            raise _Malformed(f"{where}.usage has an unknown field {name!r}")
        kinds = (bool,) if name == "estimated" else (int, type(None))
        _expect(usage[name], kinds, f"{where}.usage.{name}")
    for name, fields in (("cut", _CUT_FIELDS), ("loop", _LOOP_FIELDS)):
        if data.get(name) is not None:
            _check_record(data[name], fields, f"{where}.{name}")
    cut = data.get("cut") or {}
    if cut and (cut["reason"] not in ("budget", "answer_now", "loop", "cost")
                or cut["action"] not in ("answer", "stop")):  # fmt: skip
        raise _Malformed(f"{where}.cut has an unknown reason or action")
    for number, call in enumerate(data.get("tool_calls", [])):
        here = f"{where}.tool_calls[{number}]"
        _expect(call, (dict,), here)
        unknown = set(call) - {"name", "arguments", "id"} - set(_TOOL_RESULT_FIELDS)
        if "name" not in call or unknown:
            raise _Malformed(f"{here} must have a name, arguments and id (and a result)")
        _expect(call["name"], (str,), f"{here}.name")
        for name, kinds in _TOOL_RESULT_FIELDS.items():
            if name in call:
                _expect(call[name], kinds, f"{here}.{name}")
        if call.get("status", "") not in ("", "ran", "failed", "refused", "stopped", "not run"):
            raise _Malformed(f"{here}.status is not one a tool call can have")


#: What a call that went through our tools adds: its result or error, time, round, status.
_TOOL_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "result": (str, type(None)),
    "error": (str, type(None)),
    "seconds": (int, float, type(None)),
    "round": (int,),
    "status": (str,),
}


def _check_record(data: Any, fields: dict[str, tuple[type, ...]], where: str) -> None:
    """A small saved record: exactly these fields, each of its kind."""
    _expect(data, (dict,), where)
    if set(data) != set(fields):
        raise _Malformed(f"{where} must have the fields {', '.join(fields)}")
    for name, kinds in fields.items():
        _expect(data[name], kinds, f"{where}.{name}")


class TokenEstimator:
    """Estimates prompt tokens from characters, calibrated by the counts the server reports."""

    def __init__(self, chars_per_token: float = 3.0) -> None:
        # 3 characters per token errs on the high side for English (about 4) so that an
        # uncalibrated estimate trims a little early rather than overflowing the window.
        self.chars_per_token = chars_per_token
        self.calibrated = False

    def estimate(self, messages: list[Message]) -> int:
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        return round(chars / self.chars_per_token) + MESSAGE_OVERHEAD * len(messages) + 3

    def calibrate(self, messages: list[Message], reported_tokens: int | None) -> None:
        """Learn the ratio from a request whose prompt tokens the server counted."""
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        content_tokens = (reported_tokens or 0) - MESSAGE_OVERHEAD * len(messages) - 3
        if chars < 200 or content_tokens <= 0:
            return  # too little text to learn from
        # Clamped to what real text does (CJK about 1, English about 4, code 3 to 5), so one odd
        # count cannot make every later estimate absurd.
        observed = min(6.0, max(1.0, chars / content_tokens))
        self.chars_per_token = (
            observed if not self.calibrated else 0.5 * self.chars_per_token + 0.5 * observed
        )
        self.calibrated = True


@dataclass(frozen=True)
class WindowFit:
    messages: list[Message]
    max_tokens: int
    input_tokens: int
    dropped_turns: int
    clamped_from: int | None  # the max_tokens asked for, when it had to shrink

    def notices(self) -> list[str]:
        notes = []
        if self.dropped_turns:
            noun = "turn" if self.dropped_turns == 1 else "turns"
            notes.append(
                f"the {self.dropped_turns} oldest {noun} of this conversation were left out "
                "to fit the context window"
            )
        if self.clamped_from is not None:
            notes.append(
                f"max_tokens lowered from {self.clamped_from:,} to {self.max_tokens:,} so the "
                "request fits the context window"
            )
        return notes


def fit_to_window(
    messages: list[Message],
    max_tokens: int,
    window: int,
    estimator: TokenEstimator,
) -> WindowFit:
    """Drop the oldest user/answer pairs, then lower max_tokens, until input + output fit."""
    head = [m for m in messages[:1] if m["role"] == "system"]
    body = messages[len(head) :]
    dropped = 0
    # Leave room for at least a modest reply before giving up on old turns.
    wanted_output = min(max_tokens, window // 2)
    while len(body) > 1 and estimator.estimate(head + body) + wanted_output > window:
        body = body[2:]
        dropped += 1
    kept = head + body
    input_tokens = estimator.estimate(kept)
    room = window - input_tokens
    if room < MIN_OUTPUT_TOKENS:
        raise ContextWindowError(
            f"the prompt alone is about {input_tokens:,} tokens; with room to answer it does not "
            f"fit the {window:,}-token context window: shorten it",
            status=413,
        )
    clamped = max_tokens if max_tokens > room else None
    return WindowFit(kept, min(max_tokens, room), input_tokens, dropped, clamped)
