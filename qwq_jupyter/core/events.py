"""The typed events a call yields, and the response they add up to."""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import QwQError
from .public import publish

if TYPE_CHECKING:
    from .anatomy import Anatomy

__all__ = [
    "AnswerDelta",
    "CutReason",
    "Event",
    "Finish",
    "FinishReason",
    "Loop",
    "LoopFound",
    "Meter",
    "ReasoningDelta",
    "Response",
    "Retrying",
    "ThinkingCut",
    "ThinkingExtended",
    "ToolCall",
    "ToolCallEvent",
    "ToolReply",
    "ToolResult",
    "ToolStatus",
    "ToolsRequested",
    "Usage",
    "UsageEvent",
    "delta_tokens",
]

FinishReason = Literal["stop", "length", "tool_calls", "interrupted", "incomplete", "error"]
#: Why the thinking was cut: the token budget, a request (button, ■, `%qwq answer`), a loop,
#: the cost cap.
CutReason = Literal["budget", "answer_now", "loop", "cost"]

#: A streamed delta longer than this holds several tokens (a replay, a batching server).
ONE_TOKEN_CHARS = 16


def delta_tokens(text: str) -> int:
    """Tokens in one streamed delta, as the live counters count them.

    Servers stream one token per delta, so a delta counts one; a longer piece (a replay, a
    server that batches) counts a token per four characters. Live counts steer budgets and
    meters; the server's usage, when it reports one, is what the response keeps.
    """
    size = len(text)
    return 1 if size <= ONE_TOKEN_CHARS else -(-size // 4)


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str


#: What became of a tool call: run (`ran`), raised (`failed`), refused before running (bad
#: arguments, an unknown tool, the user said no: `refused`), stopped with ■ (`stopped`), or
#: not run because the rounds ran out or nothing could run it (`not run`, the empty default).
ToolStatus = Literal["", "ran", "failed", "refused", "stopped", "not run"]


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for and, once a tool ran, what it returned.

    `result` is the text sent back to the model; `error` the one line sent back instead when
    the call could not run or raised. `round` counts the model's replies in one cell: 0 for
    the first request, 1 after the first results went back, and so on.
    """

    name: str
    arguments: Any  # a dict when the server sent valid JSON, else the raw string
    id: str | None = None
    result: str | None = None
    error: str | None = None
    seconds: float | None = None
    round: int = 0
    status: ToolStatus = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "arguments": self.arguments, "id": self.id}
        if self.round:
            data["round"] = self.round
        if self.status:  # a call only described (nothing ran it) keeps its 0.1 shape
            data |= {
                "result": self.result,
                "error": self.error,
                "seconds": self.seconds,
                "round": self.round,
                "status": self.status,
            }
        return data

    @property
    def sent_back(self) -> str | None:
        """What the model read as this call's result: the result, or the error line."""
        if self.error is not None:
            return f"error: {self.error}"
        return self.result


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolsRequested:
    """The model's reply ended asking for these calls, and the tools are ours to run.

    The reader of the stream runs them (in its own thread, so ■ can stop a slow one and a
    confirmation can ask the user) and puts the finished calls into `reply`; the call then
    goes on with their results. `reply` is None when the source runs them itself.
    """

    calls: tuple[ToolCall, ...]
    round: int
    reply: Future[ToolReply] | None = None
    #: QwQ wrote the calls as `<tool_call>` text in its answer (a server without a tool
    #: parser): the response takes that text out of the answer.
    written: bool = False


@dataclass(frozen=True, slots=True)
class ToolReply:
    """The finished calls of one round; `stopped` when ■ stopped a tool (the call ends)."""

    calls: tuple[ToolCall, ...]
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool call finished: `call` carries its result or error, its time and status."""

    call: ToolCall


@dataclass(frozen=True)
class Usage:
    """Token counts as the server reported them; None where it did not say."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    #: Some counts are the client's estimate: a call cut before the server reported usage.
    estimated: bool = False

    @classmethod
    def from_wire(cls, usage: dict[str, Any]) -> Usage:
        details = usage.get("completion_tokens_details") or {}
        reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
        return cls(
            input_tokens=_int_or_none(usage.get("prompt_tokens")),
            output_tokens=_int_or_none(usage.get("completion_tokens")),
            reasoning_tokens=_int_or_none(reasoning),
        )

    @property
    def known(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def dollars(self, input_price: float, output_price: float) -> float:
        """What these tokens cost at these prices (dollars per million); unknown counts as 0."""
        read, written = self.input_tokens or 0, self.output_tokens or 0
        return (read * input_price + written * output_price) / 1_000_000

    def __add__(self, other: Usage) -> Usage:
        """Two calls' usage together (a thinking cut and its continuation)."""

        def total(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            total(self.input_tokens, other.input_tokens),
            total(self.output_tokens, other.output_tokens),
            total(self.reasoning_tokens, other.reasoning_tokens),
            self.estimated or other.estimated,
        )


@dataclass(frozen=True, slots=True)
class UsageEvent:
    usage: Usage


@dataclass(frozen=True, slots=True)
class Retrying:
    """A retryable failure happened before any token; the call waits `delay` seconds."""

    attempt: int
    delay: float
    error: QwQError


@dataclass(frozen=True, slots=True)
class Finish:
    """The call ended.

    `answer_only`: an inline-shape reply that finished normally (`stop`) without `</think>`.
    Its text streamed as reasoning, but it was the answer; the response takes it as such.
    """

    reason: FinishReason
    error: QwQError | None = None
    malformed_events: int = 0
    answer_only: bool = False


@dataclass(frozen=True)
class Loop:
    """A passage of the reasoning recurring: the loop guard's finding.

    Token positions count reasoning tokens from 0; `start_char` is where the first copy of the
    repeated passage begins in the reasoning text, so an answer can be forced from the
    reasoning before it.
    """

    start: int  # the reasoning token where the repeated passage first began
    period: int  # tokens per repetition, approximately
    repeats: float  # how many times the passage had occurred when the loop was found
    found_at: int  # the reasoning token at which it was found
    start_char: int = 0
    action: str = ""  # what was done about it: "answer", "stop" or "warn"

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "period": self.period,
            "repeats": self.repeats,
            "found_at": self.found_at,
            "start_char": self.start_char,
            "action": self.action,
        }

    def describe(self) -> str:
        return f"repeating since token {self.start:,} (period ≈ {self.period:,} tokens)"


@dataclass(frozen=True, slots=True)
class LoopFound:
    """The loop guard found the reasoning repeating itself; `loop.action` says what follows."""

    loop: Loop


@dataclass(frozen=True, slots=True)
class ThinkingCut:
    """The thinking was cut at `at_tokens` reasoning tokens.

    `action` "answer": a continuation asks for the answer, with `closing` (a sentence in the
    model's voice) ending the reasoning; "stop": the call ends here.
    """

    reason: CutReason
    at_tokens: int
    action: Literal["answer", "stop"] = "answer"
    closing: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "at_tokens": self.at_tokens,
            "action": self.action,
            "closing": self.closing,
        }


@dataclass(frozen=True, slots=True)
class ThinkingExtended:
    """QwQ closed its thinking before `think_min`: `appended` ("Wait,") continues it."""

    at_tokens: int
    count: int
    appended: str


@dataclass(frozen=True, slots=True)
class Meter:
    """The live cost: dollars so far, and the most the call can still come to."""

    reasoning_tokens: int
    answer_tokens: int
    spent: float
    worst: float


Event = (
    ReasoningDelta
    | AnswerDelta
    | ToolCallEvent
    | UsageEvent
    | Retrying
    | Finish
    | ThinkingCut
    | ThinkingExtended
    | LoopFound
    | Meter
    | ToolsRequested
    | ToolResult
)


@dataclass
class Response:
    """What one call produced, complete or not. Times are in seconds."""

    answer: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason = "incomplete"
    error: str | None = None
    time_to_first_token: float | None = None
    thinking_time: float | None = None
    total_time: float = 0.0
    reasoning_chunks: int = 0
    answer_chunks: int = 0
    malformed_events: int = 0
    input_price: float = 0.66
    output_price: float = 1.00
    settings: dict[str, Any] = field(default_factory=dict)
    #: Where the thinking was cut and why (a budget, Answer now, a loop, the cost cap).
    cut: ThinkingCut | None = None
    #: How many times a too-short thinking was continued with "Wait," (`think_min`).
    extensions: int = 0
    #: The loop the guard found in the reasoning, if any.
    loop: Loop | None = None
    #: HTTP calls that made this response: 1, or more when the thinking was cut or extended.
    calls: int = 1
    #: Shown again from a saved notebook's output (`reuse = 'saved'`): nothing was sent.
    reused: bool = False
    #: Rounds of tool calls whose results went back to the model before this answer.
    tool_rounds: int = 0

    @property
    def forced(self) -> bool:
        """The answer was forced from cut reasoning (budget forcing), not reached freely."""
        return self.cut is not None and self.cut.action == "answer"

    @property
    def complete(self) -> bool:
        return self.finish_reason in ("stop", "tool_calls")

    @property
    def cost(self) -> float | None:
        """Dollars for this call, or None when the server reported no usage; 0 if reused."""
        if self.reused:
            return 0.0
        if not self.usage.known:
            return None
        return self.usage.dollars(self.input_price, self.output_price)

    @property
    def reasoning_tokens(self) -> int | None:
        """Reasoning tokens: reported, or split from the output count by streamed chunks."""
        if self.usage.reasoning_tokens is not None:
            return self.usage.reasoning_tokens
        return self._split_output()[0]

    @property
    def answer_tokens(self) -> int | None:
        if self.usage.reasoning_tokens is not None and self.usage.output_tokens is not None:
            return self.usage.output_tokens - self.usage.reasoning_tokens
        return self._split_output()[1]

    @property
    def tokens_estimated(self) -> bool:
        """True when the reasoning/answer split is derived or counted, not reported."""
        return self.usage.reasoning_tokens is None or self.usage.estimated

    @property
    def output_tokens_per_second(self) -> float | None:
        if self.usage.output_tokens is None or self.time_to_first_token is None:
            return None
        generating = self.total_time - self.time_to_first_token
        # Under 10 ms (an instant replay) the rate says nothing about the model.
        return self.usage.output_tokens / generating if generating > 0.01 else None

    def _split_output(self) -> tuple[int | None, int | None]:
        total = self.usage.output_tokens
        if total is None:
            return None, None
        chunks = self.reasoning_chunks + self.answer_chunks
        if not chunks:
            return (0, total) if not self.reasoning else (total, 0)
        reasoning = round(total * self.reasoning_chunks / chunks)
        return reasoning, total - reasoning

    def anatomy(self) -> Anatomy:
        """The reasoning's anatomy: its steps by kind, where the answer first appears, how much
        thinking came after, backtracks, self-checks, script switches and the loop if any.

        Computed from the text, so it works on live, replayed, loaded and saved responses
        alike; the rules are in docs/ANATOMY.md.
        """
        from .anatomy import anatomy

        return anatomy(self.reasoning, self.answer, tokens=self.reasoning_tokens, loop=self.loop)

    def json(self) -> Any:
        """The answer parsed as JSON (for `guided_json` calls)."""
        return json.loads(_strip_code_fence(self.answer))

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "reasoning": self.reasoning,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "reasoning_tokens": self.usage.reasoning_tokens,
                "estimated": self.usage.estimated,
            },
            "finish_reason": self.finish_reason,
            "error": self.error,
            "time_to_first_token": self.time_to_first_token,
            "thinking_time": self.thinking_time,
            "total_time": self.total_time,
            "reasoning_chunks": self.reasoning_chunks,
            "answer_chunks": self.answer_chunks,
            "malformed_events": self.malformed_events,
            "input_price": self.input_price,
            "output_price": self.output_price,
            "settings": self.settings,
            "cut": self.cut.to_dict() if self.cut else None,
            "extensions": self.extensions,
            "loop": self.loop.to_dict() if self.loop else None,
            "calls": self.calls,
            "reused": self.reused,
            "tool_rounds": self.tool_rounds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Response:
        data = dict(data)
        data["usage"] = Usage(**data.get("usage", {}))
        data["tool_calls"] = [ToolCall(**call) for call in data.get("tool_calls", [])]
        if data.get("cut"):
            data["cut"] = ThinkingCut(**data["cut"])
        if data.get("loop"):
            data["loop"] = Loop(**data["loop"])
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in known})

    def __repr__(self) -> str:
        cost = "unknown" if self.cost is None else f"${self.cost:.5f}"
        answer = self.answer if len(self.answer) <= 60 else self.answer[:57] + "..."
        return (
            f"<QwQ Response {self.finish_reason}: answer={answer!r}, "
            f"reasoning={len(self.reasoning):,} chars, tokens={_tokens_text(self)}, cost={cost}>"
        )


def _tokens_text(response: Response) -> str:
    usage = response.usage
    if not usage.known:
        return "unknown"
    about = "~" if usage.estimated else ""
    return f"{about}{usage.input_tokens or 0:,} in / {about}{usage.output_tokens or 0:,} out"


def _strip_code_fence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text


#: Above this a token count is not a count (JSON's 1e999 is infinity; int() of it raises).
_MAX_COUNT = 2**53


def _int_or_none(value: Any) -> int | None:
    """A server's token count, or None when it is no plausible count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < _MAX_COUNT else None
    if isinstance(value, float) and value.is_integer() and 0 <= value < _MAX_COUNT:
        return int(value)  # is_integer() is False for inf and nan
    return None


publish(globals())
